/** What a page needs to know about the files it references. */
export interface PageAssets {
  /** Inlined into the head (good mode) or `null` (careless mode links it with the rest). */
  readonly criticalCss: string | null;
  readonly stylesheet: string;
  readonly script: string;
  readonly hero: {
    readonly src: string;
    readonly srcset: string | null;
    readonly width: number;
    readonly height: number;
  };
  readonly detail: {
    readonly src: string;
    readonly srcset: string | null;
    readonly width: number;
    readonly height: number;
  };
}

/** The hero is as wide as the column: the full viewport less the padding, at most 46rem. */
const SIZES = '(min-width: 48rem) 46rem, calc(100vw - 2rem)';

function img(className: string, image: PageAssets['hero'], alt: string, attributes: string): string {
  const srcset = image.srcset ? ` srcset="${image.srcset}" sizes="${SIZES}"` : '';
  return `<img class="${className}" src="${image.src}"${srcset} width="${image.width}" height="${image.height}" alt="${alt}"${attributes}>`;
}

/**
 * The gallery page. The good head inlines the critical CSS, loads the rest
 * without blocking the first paint and the script as a module (deferred); the
 * careless head links both and runs the script before the body is parsed.
 */
export function renderPage(assets: PageAssets): string {
  const good = assets.criticalCss !== null;
  const head = good
    ? `<style>${assets.criticalCss}</style>
<link rel="stylesheet" href="${assets.stylesheet}" media="print" onload="this.media='all'">
<noscript><link rel="stylesheet" href="${assets.stylesheet}"></noscript>
<script type="module" src="${assets.script}"></script>`
    : `<link rel="stylesheet" href="${assets.stylesheet}">
<script src="${assets.script}"></script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Studio · gallery</title>
<meta name="description" content="The studio's gallery: recent works and their palettes.">
${head}
</head>
<body>
<header class="masthead">
<h1 class="masthead__title">Studio</h1>
<p class="masthead__lede">Recent works from the studio, with their palettes.</p>
</header>
<main class="page">
<figure class="hero">
${img('hero__image', assets.hero, 'A ridge at dusk, the sun low over the mountains', good ? ' fetchpriority="high"' : '')}
<figcaption class="hero__caption">Dusk over the ridge, the series' first print.</figcaption>
</figure>
<h2 class="section-title">Gallery</h2>
<p class="gallery-status" id="gallery-status">loading the gallery…</p>
<ul class="gallery" id="gallery"></ul>
<button class="button" id="export" type="button">Download as YAML</button>
<figure class="detail">
${img('detail__image', assets.detail, 'A close-up of the ridge line', good ? ' loading="lazy" decoding="async"' : '')}
<figcaption class="detail__caption">Detail: the ridge line, printed at full size.</figcaption>
</figure>
</main>
<footer class="footer">studio-api · a Keel example</footer>
</body>
</html>
`;
}
