from enso.cli import main

main()
