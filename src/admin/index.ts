export { AdminServer, type AdminState, type MetricsSource } from './admin-server.js';
export { pacFor, pacResponder, type PacSettings } from './pac.js';
