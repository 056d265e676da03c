// Entry point for the LoginSign GraphiQL playground bundle.
// Built by build.mjs into internal/web/playground/assets/ (graphiql.js + graphiql.css).
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { setNonce } from 'get-nonce';
import { GraphiQL } from 'graphiql';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import 'graphiql/style.css';
import './page.css';

// The page's CSP allows no inline styles except <style> elements carrying the per-request
// nonce. GraphiQL's dialogs and menus (react-remove-scroll) inject such a <style>; get-nonce
// is where they look the nonce up.
const nonce = document.querySelector('meta[name="csp-nonce"]')?.content;
if (nonce) {
  setNonce(nonce);
}

// Same-origin endpoint; send the session cookie along, never to other origins.
const fetcher = createGraphiQLFetcher({
  url: '/graphql',
  fetch: (input, init) => window.fetch(input, { ...init, credentials: 'same-origin' }),
});

function mount() {
  const el = document.getElementById('graphiql');
  createRoot(el).render(
    <StrictMode>
      <GraphiQL fetcher={fetcher}>
        <GraphiQL.Logo>LoginSign</GraphiQL.Logo>
      </GraphiQL>
    </StrictMode>,
  );
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', mount);
} else {
  mount();
}
