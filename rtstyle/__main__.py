from rtstyle.cli.entry import run

run()
