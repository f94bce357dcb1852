from beatflow_cli.main import run

run()
