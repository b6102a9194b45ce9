"""The ``mlsys-studio`` command line: parser (the parser and main) and one module per
command group (design, train, experiment, dataflow).

May import any engine package, lazily inside each command so that --help stays fast.
"""
