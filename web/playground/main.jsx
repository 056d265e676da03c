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

// The saved example a first visit opens on: the analytics of the signed-in developer's
// applications over the last 30 days (UTC days), as the Developer Portal's charts show them.
function exampleQuery() {
  const day = 24 * 60 * 60 * 1000;
  const to = new Date(Math.ceil(Date.now() / day) * day).toISOString().replace('.000', '');
  const from = new Date(Math.ceil(Date.now() / day) * day - 30 * day).toISOString().replace('.000', '');
  return `# LoginSign GraphQL playground. You are signed in as yourself: these are
# your applications. Press the run button (Ctrl+Enter) to run the query, and
# change the dates (UTC) as you like. The Docs panel lists every field.
query MyAnalytics {
  applications(first: 3) {
    totalCount
    edges {
      node {
        id
        name
        analytics {
          signupsPerDay(from: "${from}", to: "${to}") { day count }
          activeUsersPerDay(from: "${from}", to: "${to}") { day count }
          usersPerRegion { region count }
          sessionsDistribution { label count }
          licensesByState { state count }
        }
      }
    }
  }
}
`;
}

// GraphiQL's markup, made accessible where its own is not: names for the CodeMirror
// textareas, keyboard access to scrolling regions, tabs that do not nest buttons in a tab.
// Attributes are only written when they differ, so the observer below settles.
function set(el, name, value) {
  if (el && el.getAttribute(name) !== value) el.setAttribute(name, value);
}

function accessible(root) {
  const label = (el, name) => {
    if (el && !el.getAttribute('aria-label')) set(el, 'aria-label', name);
  };
  root.querySelectorAll('.graphiql-query-editor textarea').forEach((t) => label(t, 'Query editor'));
  root.querySelectorAll('.graphiql-editor-tool .graphiql-editor').forEach((ed, i) => {
    label(ed.querySelector('textarea'), i === 0 ? 'Variables editor' : 'Headers editor');
  });
  root.querySelectorAll('.graphiql-response textarea').forEach((t) => label(t, 'Response'));
  root.querySelectorAll('textarea').forEach((t) => label(t, 'Editor'));
  // CodeMirror gives its scroller tabindex -1: keyboard users could not scroll it.
  const tools = [...root.querySelectorAll('.graphiql-editor-tool .graphiql-editor')];
  root.querySelectorAll('.CodeMirror-scroll').forEach((el, i) => {
    // Names unlike GraphiQL's own regions ("Query Editor", "Result Window", "Variables").
    let name = 'Text ' + (i + 1);
    if (el.closest('.graphiql-response')) name = 'Response text';
    else if (el.closest('.graphiql-query-editor')) name = 'Query text';
    else {
      const tool = tools.findIndex((t) => t.contains(el));
      if (tool === 0) name = 'Variables text';
      if (tool === 1) name = 'Headers text';
    }
    set(el, 'tabindex', '0');
    set(el, 'role', 'region');
    set(el, 'aria-label', name);
  });
  root.querySelectorAll('li.graphiql-tab').forEach((li) => {
    const button = li.querySelector('.graphiql-tab-button');
    set(li, 'role', 'presentation');
    if (li.hasAttribute('aria-selected')) li.removeAttribute('aria-selected');
    if (button) {
      set(button, 'role', 'tab');
      set(button, 'aria-selected', li.classList.contains('graphiql-tab-active') ? 'true' : 'false');
    }
  });
}

function mount() {
  const el = document.getElementById('graphiql');
  createRoot(el).render(
    <StrictMode>
      <GraphiQL fetcher={fetcher} defaultQuery={exampleQuery()}>
        <GraphiQL.Logo>LoginSign</GraphiQL.Logo>
      </GraphiQL>
    </StrictMode>,
  );
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      accessible(document.body);
    });
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['class', 'role', 'aria-selected', 'tabindex'] });
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', mount);
} else {
  mount();
}
