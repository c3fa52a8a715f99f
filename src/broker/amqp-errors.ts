/*
 * Why RabbitMQ closed a channel, read from the reply code amqplib puts on the error (`code`), never
 * from the message: the message holds the vhost's and the queue's names, which anyone may choose
 * ("jobs-404", a vhost "NOT_FOUND"), and a random name holds "404" often enough to matter.
 */

/** No such queue or exchange. */
export const NOT_FOUND = 404
/** A queue exclusive to another connection. */
export const RESOURCE_LOCKED = 405
/** The user may not use it. */
export const ACCESS_REFUSED = 403
/** The vhost refused the connection (it does not exist, or the user may not use it). */
export const NOT_ALLOWED = 530

/** The AMQP reply code of a channel or connection error, or undefined for any other error. */
export function amqpReplyCode(error: unknown): number | undefined {
  const code = (error as {code?: unknown} | null | undefined)?.code
  return typeof code === 'number' ? code : undefined
}

/** The broker answered "no such queue or exchange". */
export function isNotFound(error: unknown): boolean {
  return amqpReplyCode(error) === NOT_FOUND
}
