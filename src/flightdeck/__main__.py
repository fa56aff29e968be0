from flightdeck.cli.main import main

main()
