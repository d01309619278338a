// Who is signed in ({kind: 'user'|'key'|'open', email?, name?, role}) and what the role may do. The API enforces
// every rule; the dashboard only hides what would be refused. <body data-role> drives the CSS that hides controls
// (app.css, "Roles").
const ORDER = { viewer: 0, member: 1, admin: 2 };
let who = null;

/** Remembers the caller (from GET /api/auth/me) and tags <body> with its role. */
export function setWho(me) {
  who = me || null;
  if (who) document.body.dataset.role = who.role; else delete document.body.dataset.role;
}

/** The caller, or null before sign-in. */
export function getWho() { return who; }

/** Whether the caller's role includes `role` ('viewer' | 'member' | 'admin'). */
export function can(role) {
  return !!who && (ORDER[who.role] ?? -1) >= ORDER[role];
}
