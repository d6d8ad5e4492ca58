"""Drives tokend with the official Python Elasticsearch client as users
spread it over a cluster: given one node's URL, it sniffs the others on
start (GET /_nodes/_all/http), then makes calls and prints one JSON object
for test/e2e/python_test.go.

usage: sniff_client.py URL USER PASSWORD
"""

import json
import sys

import elasticsearch
from elasticsearch import Elasticsearch


def main():
    url, user, password = sys.argv[1:4]
    es = Elasticsearch(
        [url],
        http_auth=(user, password),
        sniff_on_start=True,
        sniff_timeout=10,
        max_retries=5,
    )
    hosts = sorted(c.host for c in es.transport.connection_pool.connections)
    served_by = sorted({es.info()["name"] for _ in range(2 * len(hosts))})
    who = es.security.authenticate()
    token = es.security.get_token(
        body={"grant_type": "password", "username": user, "password": password}
    )
    bearer = Elasticsearch(
        hosts, headers={"Authorization": "Bearer " + token["access_token"]}
    )
    by_token = bearer.security.authenticate()
    print(
        json.dumps(
            {
                "client_version": elasticsearch.__versionstr__,
                "hosts": hosts,
                "served_by": served_by,
                "username": who["username"],
                "token_type": token["type"],
                "token_username": by_token["username"],
                "token_authentication_type": by_token["authentication_type"],
            }
        )
    )


if __name__ == "__main__":
    main()
