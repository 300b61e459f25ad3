"""The leaderboard as a static web site: plain files, no CDN, nothing fetched at view time, working from
``file://`` and from any static web server.

    python -m benchmark.site --results R.json [R2.json …] --year Y --out SITE

``index.html`` (the leaderboard, ranked and printed as ``benchmark.compare`` ranks and prints it, sortable and
filterable), ``plots.html`` (PSNR against runtime, FLOPs and params as SVG), ``years.html`` (each year's baseline
and winner side by side), ``teams/<model>.html`` (a page per model, and per team a sweep could not measure),
``crops/`` (visual crops, with ``--data``), ``site.css`` and ``site.js``. Modules: ``inputs`` (what is read and
ranked), ``board`` (leaderboard and plots pages), ``team`` (model pages), ``across`` (years page), ``crops``,
``svg``, ``markup`` (escaping, file names, the page frame), ``build`` (writing it all in place).
"""
