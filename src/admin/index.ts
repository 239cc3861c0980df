export { AdminServer, type AdminState } from './admin-server.js';
