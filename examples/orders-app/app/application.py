"""orders-app: stores an order in the table its environment names (ORDERS_TABLE) and reads it
back; queues a job on its environment's queue (JOBS_QUEUE)."""

import json
import os

import boto3
from flask import Flask, request

application = Flask(__name__)


def table():
    return boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])


@application.route("/health")
def health():
    return "ok", 200


@application.route("/orders/<order_id>", methods=["PUT"])
def put_order(order_id):
    item = {"id": order_id, "what": request.get_data(as_text=True)}
    table().put_item(Item=item)
    boto3.client("sqs").send_message(
        QueueUrl=os.environ["JOBS_QUEUE"], MessageBody=json.dumps({"order": order_id})
    )
    return get_order(order_id)


@application.route("/orders/<order_id>")
def get_order(order_id):
    found = table().get_item(Key={"id": order_id}).get("Item")
    if found is None:
        return {"error": "no such order"}, 404
    return {"table": os.environ["ORDERS_TABLE"], "order": found}, 200


if __name__ == "__main__":
    application.run(port=8000)
