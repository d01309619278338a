// Deployment configuration. The deploy step rewrites this file.
// apiBaseUrl: "" means "same origin as the dashboard" (local `leadpipe serve`).
window.LEADPIPE_CONFIG = { apiBaseUrl: "" };
