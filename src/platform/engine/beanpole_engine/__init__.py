"""Beanpole's platform engine: what Elastic Beanstalk's platform engine does on an instance of
its Python platform, as a Python 3.9 standard-library package (shipped inside the Beanpole
binary as one zip archive that Python runs: `python3 engine.pyz COMMAND ...`).

Modules, one per concern:

  paths         EB's paths on an instance (in a private view, or under --root, on a developer's machine)
  runner        running commands with their output logged; a step's failure
  documents     the deployment document it reads, the report it writes
  bundle        fetching a version and staging it (links judged on the finished tree)
  ebextensions  packages, files, commands, container_commands
  hooks         .platform hooks
  dependencies  the virtualenv and requirements.txt / Pipfile
  properties    environment properties, secrets by reference, the environment file
  getconfig     EB's /opt/elasticbeanstalk/bin/get-config and what it answers
  proxy         nginx and Apache configuration, and running them
  processes     the Procfile, supervision (systemd on an instance, `supervise` elsewhere)
  health        the health check and the instance's health rating
  engine        the deployment's steps in EB's order, the flip, the rollback, boot
  cli           the command line
"""

# The document and report format this engine reads and writes.
SCHEMA = 1
