"""JupyterHub 3 on one VM with system users, climcat as a hub-managed service.

Researchers log in with their system accounts; their notebook servers run as them
(LocalProcessSpawner), see the archive read-only at /data/cmip5, /data/cordex and
/data/derived, write only their /scratch/<user>, and find CLIMCAT_URL set. climcat
runs as the system user `climcat`, started by the hub, which hands it
JUPYTERHUB_API_URL, JUPYTERHUB_API_TOKEN and JUPYTERHUB_SERVICE_PREFIX.

POSIX permissions that make this so (run once as root; `researchers` is the group
of everyone who may log in, `datamgr` the data managers):

    # Archive: data managers write, researchers and climcat read, nobody else.
    chown -R datamgr:researchers /data/cmip5 /data/cordex /data/derived
    chmod -R u=rwX,g=rX,o= /data/cmip5 /data/cordex /data/derived
    usermod -aG researchers climcat

    # Scratch: /scratch itself is not listable; each /scratch/<user> is created
    # by make_scratch below, owned by the user, group climcat (setgid, so new
    # files stay in it), mode 2770: the user and the climcat service (usage,
    # purge, promote) get in, other researchers do not.
    install -d -o root -g root -m 0711 /scratch

The paths line up with climcat's root names: DATA_ROOT=/data is the root `data`,
SCRATCH_ROOT=/scratch the root `scratch`, so a file record's path
`cordex/output/EUR-44/...` is `/data/cordex/output/EUR-44/...` inside a notebook,
and `files(id)` in the Python client gives both that path and its URLs.

Docker variant (dockerspawner's SystemUserSpawner runs each server in a container as
the system user): see the commented block at the end.
"""

import grp
import os
import pwd

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

PUBLIC_URL = "https://hub.example.org"
CLIMCAT_URL = f"{PUBLIC_URL}/services/climcat"

# --- login and notebook servers: system users ---
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_groups = {"researchers"}
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Spawner.notebook_dir = "~"


def make_scratch(spawner):
    """/scratch/<user>: owned by the user, group climcat, 2770 (see the module docstring)."""
    name = spawner.user.name
    path = f"/scratch/{name}"
    os.makedirs(path, exist_ok=True)
    os.chown(path, pwd.getpwnam(name).pw_uid, grp.getgrnam("climcat").gr_gid)
    os.chmod(path, 0o2770)


c.Spawner.pre_spawn_hook = make_scratch
c.Spawner.environment = {
    # The Python client reads CLIMCAT_URL and the server's own JUPYTERHUB_API_TOKEN: no setup.
    "CLIMCAT_URL": CLIMCAT_URL,
    "CLIMCAT_DATA": "/data",
    "CLIMCAT_SCRATCH": lambda spawner: f"/scratch/{spawner.user.name}",
}

# --- climcat, started and restarted by the hub ---
c.JupyterHub.services = [
    {
        "name": "climcat",
        "url": "http://127.0.0.1:8080",
        "api_token": os.environ["CLIMCAT_HUB_TOKEN"],  # openssl rand -hex 32
        "oauth_no_confirm": True,
        "user": "climcat",
        "cwd": "/opt/climcat",
        "command": ["node", "dist/apps/standalone/src/main.js"],
        "environment": {
            "PORT": "8080",
            "HOST": "127.0.0.1",
            "PUBLIC_URL": CLIMCAT_URL,
            "STATE_DIR": "/var/lib/climcat",
            "DATA_ROOT": "/data",
            "SCRATCH_ROOT": "/scratch",
            "ADMIN_API_KEY": os.environ["CLIMCAT_ADMIN_API_KEY"],
            "SESSION_SECRET": os.environ["CLIMCAT_SESSION_SECRET"],
            # Hub groups named climcat-<x> become catalog groups <x> (e.g. climcat-eucp -> eucp).
            "JUPYTERHUB_GROUP_PREFIX": "climcat-",
        },
    },
]

c.JupyterHub.load_roles = [
    # Every user who may log in may use climcat.
    {"name": "user", "scopes": ["self", "access:services!service=climcat"]},
    # A notebook server's $JUPYTERHUB_API_TOKEN carries the server role's scopes: add climcat's.
    {
        "name": "server",
        "scopes": ["users:activity!user", "access:servers!user", "access:services!service=climcat"],
    },
]

# --- Docker variant: dockerspawner's SystemUserSpawner ---
# c.JupyterHub.spawner_class = "dockerspawner.SystemUserSpawner"
# c.DockerSpawner.image = "quay.io/jupyter/scipy-notebook:2023-10-20"
# c.DockerSpawner.volumes = {
#     "/data/cmip5": {"bind": "/data/cmip5", "mode": "ro"},
#     "/data/cordex": {"bind": "/data/cordex", "mode": "ro"},
#     "/data/derived": {"bind": "/data/derived", "mode": "ro"},
#     "/scratch/{username}": {"bind": "/scratch/{username}", "mode": "rw"},
# }
# c.DockerSpawner.environment = c.Spawner.environment
