// The studio gallery page: lists the gallery from /api/gallery and reports
// the page's Web Vitals and TTI to the app (@keel/web-vitals beacons to
// /keel/vitals, which feed the page_load, lcp, inp and cls budgets).
import { collectVitals } from '@keel/web-vitals';

collectVitals({ pageGroups: ['/app'] });

/** @param {{ id: number, title: string, author: string, tags: string[], palette: string[] }} item */
function card(item) {
  const li = document.createElement('li');
  li.className = 'card';
  const swatches = item.palette
    .map((colour) => `<span class="swatch" style="background:${colour}"></span>`)
    .join('');
  li.innerHTML = `<h3 class="card__title"></h3><p class="card__author"></p><div class="card__palette">${swatches}</div><p class="card__tags"></p>`;
  li.querySelector('.card__title').textContent = item.title;
  li.querySelector('.card__author').textContent = `by ${item.author}`;
  li.querySelector('.card__tags').textContent = item.tags.map((t) => `#${t}`).join(' ');
  return li;
}

async function showGallery() {
  const list = document.getElementById('gallery');
  const status = document.getElementById('gallery-status');
  try {
    const res = await fetch('/api/gallery');
    if (!res.ok) throw new Error(`the gallery answered ${res.status}`);
    const body = await res.json();
    list.replaceChildren(...body.items.map(card));
    status.textContent = `${body.items.length} of ${body.total} works`;
    return body;
  } catch (error) {
    status.textContent = `could not load the gallery: ${error.message}`;
    return null;
  }
}

function start() {
  const loaded = showGallery();
  // Exporting is rare: its code (and the YAML library) loads only when asked for.
  document.getElementById('export').addEventListener('click', async () => {
    const body = await loaded;
    if (!body) return;
    const { downloadAsYaml } = await import('./export.js');
    downloadAsYaml(body.items, 'gallery.yaml');
  });
}

// A module script runs after parsing; a classic script in the head (the careless page) runs before it.
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
