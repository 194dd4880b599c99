"""The pets-app web application: a tiny Flask app for the Beanpole pets-app example.

Elastic Beanstalk's Python platform looks for a WSGI callable named `application`.
"""

from flask import Flask, jsonify

application = Flask(__name__)

PETS = [
    {"id": 1, "name": "Rex", "species": "dog"},
    {"id": 2, "name": "Tom", "species": "cat"},
    {"id": 3, "name": "Goldie", "species": "fish"},
]


@application.route("/")
def list_pets():
    return jsonify(PETS)


@application.route("/health")
def health():
    return "ok", 200, {"Content-Type": "text/plain"}


if __name__ == "__main__":
    application.run(host="127.0.0.1", port=8000)
