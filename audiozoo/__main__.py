from audiozoo.cli import main

main()
