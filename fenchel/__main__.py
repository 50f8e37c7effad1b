from fenchel.cli import run

run()
