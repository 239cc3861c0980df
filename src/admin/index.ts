export {
  AdminServer,
  type AdminApi,
  type AdminLog,
  type AdminOptions,
  type AdminState,
  type MetricsSource,
  type ReloadOutcome,
} from './admin-server.js';
export { AdminAccess, checkAdminExposure, isLoopbackListener, TOKEN_COOKIE } from './admin-access.js';
export { pacFor, pacResponder, type PacSettings } from './pac.js';
export { renderTop, type TopSnapshot, type TopLayout } from './top-view.js';
export { ago, bytes, count } from './units.js';
export { DashboardAssets, DASHBOARD_CSP, DASHBOARD_DIR, isDashboardPath } from './dashboard.js';
