from beatflow_admin.main import run

run()
