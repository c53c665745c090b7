from instapop.cli import main

main()
