import { DeleteMessageCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';

/**
 * Receives and deletes messages until `count` came back (or about `maxPolls` seconds of long polls found no
 * more). Deleting as it goes lets a FIFO group release its next message.
 */
export async function receiveAndDelete(sqs: SQSClient, queueUrl: string, count: number, maxPolls = 100): Promise<Message[]> {
  const out: Message[] = [];
  for (let polls = 0; out.length < count && polls < maxPolls; polls++) {
    const r = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['MessageGroupId'],
      }),
    );
    for (const m of r.Messages ?? []) {
      out.push(m);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
  return out;
}
