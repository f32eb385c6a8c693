"""Pure statistics every app may import (no Django): sequences and arrays in, frozen dataclasses out.

One module per concept: ``proportions`` (binomial intervals and the sample-size planner), ``alpha``
(Krippendorff), ``kappa`` (Cohen, Fleiss, Gwet's AC1, percent agreement), ``sets`` (Jaccard, MASI),
``paired`` (McNemar, Holm), ``designs`` (shares from probability samples: Wilson, stratified, Hájek) and ``ppi``
(prevalences corrected by gold labels), with ``bootstrap`` (unit resampling, BCa) and ``coding`` (reliability data)
beneath them and ``errors`` for what they raise. Every public function states its formula and a reference.
Undefined statistics (no variation, nothing to pair) come back as ``value=None`` with a ``reason``; bad input
raises a :class:`stats.errors.StatsInputError` (a ``ValueError``) that names what and where.
"""
