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
const exampleQuery = `# LoginSign GraphQL playground. You are signed in as yourself: these are
# your applications. Press the run button (Ctrl+Enter) to run the query;
# change the dates in Variables below. The Docs panel lists every field.
query MyAnalytics($from: Time!, $to: Time!) {
  applications(first: 10) {
    totalCount
    edges {
      node {
        id
        name
        analytics {
          signupsPerDay(from: $from, to: $to) { day count }
          activeUsersPerDay(from: $from, to: $to) { day count }
          usersPerRegion { region count }
          sessionsDistribution { label count }
          licensesByState { state count }
        }
      }
    }
  }
}
`;

function exampleVariables() {
  const day = 24 * 60 * 60 * 1000;
  const to = new Date(Math.ceil(Date.now() / day) * day);
  const from = new Date(to.getTime() - 30 * day);
  return JSON.stringify({ from: from.toISOString(), to: to.toISOString() }, null, 2);
}

// GraphiQL's markup, made accessible where its own is not: names for the CodeMirror
// textareas, keyboard access to scrolling regions, tabs that do not nest buttons in a tab.
function accessible(root) {
  const label = (el, name) => {
    if (el && !el.getAttribute('aria-label')) el.setAttribute('aria-label', name);
  };
  root.querySelectorAll('.graphiql-query-editor textarea').forEach((t) => label(t, 'Query editor'));
  root.querySelectorAll('.graphiql-editor-tool .graphiql-editor').forEach((ed, i) => {
    label(ed.querySelector('textarea'), i === 0 ? 'Variables editor' : 'Headers editor');
  });
  root.querySelectorAll('.graphiql-response textarea').forEach((t) => label(t, 'Response'));
  root.querySelectorAll('textarea:not([aria-label])').forEach((t) => label(t, 'Editor'));
  root.querySelectorAll('.CodeMirror-scroll:not([tabindex])').forEach((el) => {
    el.setAttribute('tabindex', '0');
    el.setAttribute('role', 'region');
    el.setAttribute('aria-label', el.closest('.graphiql-response') ? 'Response' : 'Editor');
  });
  root.querySelectorAll('li[role="tab"]').forEach((li) => {
    const button = li.querySelector('.graphiql-tab-button');
    li.setAttribute('role', 'presentation');
    if (button) {
      button.setAttribute('role', 'tab');
      button.setAttribute('aria-selected', li.classList.contains('graphiql-tab-active') ? 'true' : 'false');
    }
  });
}

function mount() {
  const el = document.getElementById('graphiql');
  createRoot(el).render(
    <StrictMode>
      <GraphiQL fetcher={fetcher} defaultTabs={[{ query: exampleQuery, variables: exampleVariables() }]}
        defaultEditorToolsVisibility="variables">
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
  }).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['class'] });
}

if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', mount);
} else {
  mount();
}
