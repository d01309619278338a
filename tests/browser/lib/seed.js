// Realistic seed data, posted through the real API.
const FIRST = ['Olivia', 'Liam', 'Emma', 'Noah', 'Ava', 'Ethan', 'Sophia', 'Mason', 'Isabella', 'Lucas'];
const LAST = ['Martin', 'Chen', 'Patel', 'Garcia', 'Kim', 'Nguyen', 'Rossi', 'Silva', 'Novak', 'Okafor'];
const SOURCES = ['google', 'facebook', 'linkedin', 'newsletter'];
const CAMPAIGNS = ['llc-spring-2026', 'ein-fast-track', 'retarget-q4'];
const DEVICES = ['desktop', 'mobile', 'tablet'];
const BROWSERS = ['Chrome 124', 'Safari 17', 'Firefox 126', 'Edge 124'];

/** Stage for the i-th lead (0 = oldest). The newest leads stay in the first stage. */
export function stageFor(i, stages) {
  // 22 in stages[1], 2 in stages[2], 2 in stages[3], 1 in stages[4], 3 newest in stages[0]
  if (i >= 27) return stages[0];
  if (i < 22) return stages[1];
  if (i < 24) return stages[2];
  if (i < 26) return stages[3];
  return stages[4] || stages[stages.length - 1];
}

export function leadBody(i, stages) {
  const first = FIRST[i % FIRST.length];
  const last = LAST[(i * 3 + 1) % LAST.length];
  const source = SOURCES[i % SOURCES.length];
  const campaign = CAMPAIGNS[i % CAMPAIGNS.length];
  const fieldsTotal = 12;
  const pct = [10, 25, 40, 60, 80, 100][i % 6];
  return {
    email: `${first}.${last}${String(i).padStart(2, '0')}@example.com`.toLowerCase(),
    first_name: first,
    last_name: last,
    phone: `555-01${String(i).padStart(2, '0')}`,
    company: `${last} Holdings`,
    stage: stageFor(i, stages),
    source,
    domain: 'myeinregistry.com',
    campaign,
    utm_source: source,
    utm_medium: source === 'newsletter' ? 'email' : 'cpc',
    utm_campaign: campaign,
    utm_term: 'llc formation',
    utm_content: `variant-${(i % 2) ? 'b' : 'a'}`,
    referrer: `https://www.${source}.com/`,
    ip_address: `203.0.113.${10 + i}`,
    user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
    browser: BROWSERS[i % BROWSERS.length],
    device_type: DEVICES[i % DEVICES.length],
    form_completion_percent: pct,
    form_fields_completed: Math.round((pct / 100) * fieldsTotal),
    form_fields_total: fieldsTotal,
    custom_data: { plan: i % 2 ? 'pro' : 'starter', state: ['DE', 'WY', 'TX', 'FL'][i % 4], seed_index: i },
  };
}

/** The lead whose cells would be formulas in a spreadsheet. */
export const FORMULA_LEAD = {
  email: 'formula@example.com',
  first_name: '=HYPERLINK("http://evil.example/","Click")',
  last_name: '@SUM(A1:A9)',
  phone: '+1 555 0199',
  company: '-2+3',
  utm_term: '+SUM(A1:A2)',
  utm_content: '-cmd',
  source: 'google',
  campaign: '=cmd|\' /C calc\'!A0',
  custom_data: { note: '\tTabbed, "quoted"\r\nsecond line' },
};

/** Seed n leads (oldest first) sequentially so created_at order is deterministic. */
export async function seed(api, stages, n = 30) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    const body = leadBody(i, stages);
    // Create in the first stage, then advance by postback (records history like a real funnel).
    const first = await api.postback({ ...body, stage: stages[0] });
    if (body.stage !== stages[0]) {
      const r = await api.postback({ lead_id: first.lead_id, email: body.email, stage: body.stage });
      if (r.stage !== body.stage) throw new Error(`lead ${i} did not advance to ${body.stage}: ${JSON.stringify(r)}`);
    }
    ids.push(first.lead_id);
  }
  // Tests rely on creation order = index order. created_at has microseconds and the posts are sequential;
  // check that state instead of sleeping between posts.
  const listed = await api.listAll();
  const order = listed.map((l) => l.id).filter((id) => ids.includes(id)).reverse();
  if (JSON.stringify(order) !== JSON.stringify(ids)) throw new Error('seeded leads are not listed in creation order');
  return ids;
}

/** Many leads fast (no history), `concurrency` posts in flight. Returns ids in no particular order. */
export async function seedMany(api, n, body, concurrency = 8) {
  const ids = [];
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      const r = await api.postback(body(i));
      ids.push(r.lead_id);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return ids;
}
