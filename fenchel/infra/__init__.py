"""The plumbing the applications share, apart from the core.

The core (domains, regularizers, energies, maximizers, losses, candidates,
log_partition, testing) never imports it; the applications (multilabel, imitation,
bench) and the harness of their grids (:mod:`fenchel.experiments`) do. Its modules are
private: their names may change between releases.

* ``_io``: atomic writes, all-or-nothing sets of files, writability checks, output locks,
  and :class:`~fenchel.infra._io.Refusal`, the one-line errors of the command line;
* ``_settings``: the settings records of resumable output folders, and their refusal;
* ``_pool``: worker processes that stop within seconds on Ctrl-C or an error;
* ``_cli_types``: the checked ``argparse`` types and deprecated flag spellings of every
  ``fenchel`` sub-command.
"""
