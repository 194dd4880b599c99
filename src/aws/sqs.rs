//! SQS: a worker's queue as `queue` and `status` see it (its depth), a message sent to it,
//! and the dead-letter queue's messages moved back (each sent to the queue before it is
//! deleted from the dead-letter queue: a move whose answer is lost leaves a duplicate, never a
//! loss, as SQS's own redrive).

use super::{AwsError, ErrorClass, Sdk};
use aws_sdk_sqs::types::{MessageAttributeValue, QueueAttributeName};
use aws_sdk_sqs::Client;
use std::collections::BTreeMap;

pub use crate::status::QueueDepth as Depth;

/// The queue's counts, `None` when it does not exist.
pub async fn depth(client: &Client, url: &str) -> Result<Option<Depth>, AwsError> {
    let answer = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
        .send()
        .await
        .op("GetQueueAttributes");
    let answer = match answer {
        Ok(a) => a,
        Err(e) if e.class() == ErrorClass::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let attributes = answer.attributes();
    let count = |name: QueueAttributeName| {
        attributes
            .and_then(|a| a.get(&name))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    Ok(Some(Depth {
        visible: count(QueueAttributeName::ApproximateNumberOfMessages),
        in_flight: count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        delayed: count(QueueAttributeName::ApproximateNumberOfMessagesDelayed),
    }))
}

/// Sends one message with String attributes; its id.
pub async fn send(
    client: &Client,
    url: &str,
    body: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<String, AwsError> {
    let mut request = client.send_message().queue_url(url).message_body(body);
    for (name, value) in attributes {
        let value = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|e| AwsError::Unexpected(format!("message attribute {name}: {e}")))?;
        request = request.message_attributes(name, value);
    }
    let answer = request.send().await.op("SendMessage")?;
    Ok(answer.message_id().unwrap_or_default().to_string())
}

/// Moves every message of `from` (a dead-letter queue) to `to`, body and attributes as they
/// are: each sent, then deleted; the number moved. Stops when a receive finds none.
pub async fn redrive(client: &Client, from: &str, to: &str) -> Result<usize, AwsError> {
    let mut moved = 0;
    loop {
        let answer = client
            .receive_message()
            .queue_url(from)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .visibility_timeout(60)
            .message_attribute_names("All")
            .send()
            .await
            .op("ReceiveMessage")?;
        let messages = answer.messages();
        if messages.is_empty() {
            return Ok(moved);
        }
        for message in messages {
            let mut send = client
                .send_message()
                .queue_url(to)
                .message_body(message.body().unwrap_or_default());
            for (name, value) in message.message_attributes().into_iter().flatten() {
                send = send.message_attributes(name, value.clone());
            }
            send.send().await.op("SendMessage")?;
            client
                .delete_message()
                .queue_url(from)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await
                .op("DeleteMessage")?;
            moved += 1;
        }
    }
}
