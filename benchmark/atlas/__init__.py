"""The atlas: every released NTIRE ESR entry of several challenge repositories (and a network of your own) measured
under one protocol and set side by side: ``python -m benchmark.atlas``.

``sweeps`` runs one sweep per repository (``benchmark.sweep`` underneath: each team in a process of its own, resumed
where it stopped), every team timed beside one reference network; ``rows`` turns their results into one row per
entry with the published figures beside its own; ``placement`` finds each year's winner and the Pareto fronts;
``output`` writes ``atlas.json``, ``atlas.csv`` and a LaTeX table; ``scale`` says what the whole atlas costs.
"""
