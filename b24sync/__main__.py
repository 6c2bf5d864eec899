from b24sync.cli import main

main()
