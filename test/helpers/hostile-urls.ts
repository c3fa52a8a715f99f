// The broker-URL shapes that leaked a password (the hostile-input report), each with the pieces
// that must never be printed or written: shared by the output tests and the audit-log tests.

/** Port 1 on localhost: connection refused at once; the last two reach the real brokers. */
export const HOSTILE_URLS: readonly {url: string; secrets: string[]}[] = [
  {url: 'amqp://a:S3cr3tPw@127.0.0.1:1//;amqp://b:S3cr3tPw2@127.0.0.1:1//', secrets: ['S3cr3tPw', 'S3cr3tPw2']},
  {url: ' redis://:S3cr3tPw@127.0.0.1:1/0', secrets: ['S3cr3tPw']},
  {url: 'redis//:S3cr3tPw@127.0.0.1:1', secrets: ['S3cr3tPw']},
  {url: 'redis:/u:S3cr3tPw@127.0.0.1:1', secrets: ['S3cr3tPw']},
  {url: 'redis://:S3cr@tPw@127.0.0.1:1/0', secrets: ['S3cr@tPw']},
  {url: 'redis://u:S3c:rPw@127.0.0.1:1/0', secrets: ['S3c:rPw']},
  {url: 'redis://:S3c/rPw@127.0.0.1:1/0', secrets: ['S3c/rPw']},
  {url: 'redis://127.0.0.1:1/0?password=S3cr3tPw', secrets: ['S3cr3tPw']},
  {url: 'amqp://u:S3cr3tPw@127.0.0.1:1/vh', secrets: ['S3cr3tPw']},
  {url: 'redis://:S3cr%33tPw@127.0.0.1:1/0', secrets: ['S3cr%33tPw', 'S3cr3tPw']},
  // The real brokers, refusing the login: their own error texts must not carry the password either.
  {url: 'amqp://guest:S3cr3tPw@127.0.0.1:5672//', secrets: ['S3cr3tPw']},
  {url: 'redis://nobody:S3cr3tPw@127.0.0.1:6379/0', secrets: ['S3cr3tPw']},
]
