// Runs graphql-http's GraphQL-over-HTTP audit against the URL in argv[2] and prints one JSON
// line per audit: {"id","name","status","reason"} (status ok, warn or error).
import { auditServer } from 'graphql-http';

const url = process.argv[2];
if (!url) {
  console.error('usage: node graphql-audit.mjs URL');
  process.exit(2);
}
const results = await auditServer({ url });
for (const r of results) {
  let reason = '';
  if (r.status !== 'ok') {
    reason = r.reason;
    if (r.response) {
      const body = await r.response.text().catch(() => '');
      reason += ` (status ${r.response.status}, content-type ${r.response.headers.get('content-type')}, body ${body.slice(0, 300)})`;
    }
  }
  console.log(JSON.stringify({ id: r.id, name: r.name, status: r.status, reason }));
}
