from rtstyle.cli.main import main

main()
