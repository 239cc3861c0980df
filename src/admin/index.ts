export { AdminServer, type AdminState, type MetricsSource } from './admin-server.js';
