/*
 * milter.c - danced's milter face: its listener and its life.
 *
 * USAGE
 *	milter_open(d, cfg->milter_socket, cfg->socket_mode, cfg->socket_group, err, size);
 *	... daemonize, drop privileges, event base, resolver ...
 *	milter_start(d, max);
 *	... SIGHUP: milter_set_max(d, max) ...
 *	... SIGTERM: milter_stop(d); ... milter_idle(d) ... (or milter_close_all(d))
 *	milter_free(d);
 *
 * DESCRIPTION
 *	The face is a server (server.h) whose connections are mconn's
 *	(mconn.c).  At milter_max_connections it stops accepting until
 *	one closes (the kernel's backlog holds the next MTA connections);
 *	its limit is its own, so idle milter connections can never take
 *	the policy face's descriptors: danced's open-file limit counts
 *	both faces' limits and the resolver's queries in flight.
 *
 *	Stopping: the listener closes; a connection with no message in
 *	progress closes at once (the MTA applies its default_action -
 *	tempfail, as recommended - to the rest of that SMTP session), the
 *	others once their message has ended; while danced stops, a new
 *	message on them is answered tempfail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "endpoint.h"
#include "milter.h"
#include "milter_private.h"
#include "panic.h"

/* milter_on_drained - (server) stopped, and the last connection closed. */
static void milter_on_drained(void *arg)
{
    milter_face *mf = arg;

    danced_check_done(mf->d);
}

/* milter_open - bind endpoint. */
milter_status milter_open(danced *d, const char *text, unsigned mode, const char *group,
                          char *err, size_t errsize)
{
    milter_face *mf;
    endpoint ep;
    char why[256];

    if (d->mface != NULL)
        DANCE_PANIC("one milter face per process");
    if (text == NULL || strlen(text) >= MILTER_ENDPOINT_MAX) {
        snprintf(err, errsize, "milter_socket: missing or too long");
        return MILTER_BAD_ENDPOINT;
    }
    if (!endpoint_parse(text, &ep, why, sizeof(why))) {
        snprintf(err, errsize, "milter_socket: %s", why);
        return MILTER_BAD_ENDPOINT;
    }
    mf = xcalloc(1, sizeof(*mf));
    mf->d = d;
    mf->inet = ep.family != AF_UNIX;
    snprintf(mf->endpoint, sizeof(mf->endpoint), "%s", text);
    switch (server_open("milter_socket", text, mode, group, &mf->srv, err, errsize)) {
    case SERVER_OK:
        break;
    case SERVER_BAD_ENDPOINT:
        free(mf);
        return MILTER_BAD_ENDPOINT;
    case SERVER_ENVIRONMENT:
    default:
        free(mf);
        return MILTER_ENVIRONMENT;
    }
    d->mface = mf;
    return MILTER_OK;
}

/* milter_start - begin accepting on d's loop, at most max connections at a time. */
void milter_start(danced *d, size_t max)
{
    milter_face *mf = d->mface;
    server_face face = { "milter", mconn_accept, milter_on_drained, mf };

    server_start(mf->srv, d->base, &d->log, &face, max);
}

/* milter_set_max - the connection limit of a (re)loaded configuration. */
void milter_set_max(danced *d, size_t max)
{
    server_set_max(d->mface->srv, max);
}

/* milter_stop - stop accepting and drain. */
void milter_stop(danced *d)
{
    server_stop(d->mface->srv);
    server_drain(d->mface->srv);
}

/* milter_close_all - close every connection now. */
void milter_close_all(danced *d)
{
    server_close_all(d->mface->srv);
}

/* milter_idle - true when no connection is open. */
bool milter_idle(const danced *d)
{
    return server_connections(d->mface->srv) == 0;
}

/* milter_counts - open connections, and messages in progress. */
void milter_counts(const danced *d, size_t *connections, size_t *messages)
{
    *connections = server_connections(d->mface->srv);
    *messages = d->mface->messages;
}

/* milter_endpoint - the endpoint as configured. */
const char *milter_endpoint(const danced *d)
{
    return d->mface != NULL ? d->mface->endpoint : "";
}

/* milter_free - close the listener and release the face. */
void milter_free(danced *d)
{
    milter_face *mf = d->mface;

    if (mf == NULL)
        return;
    server_close_all(mf->srv);
    server_free(mf->srv);
    free(mf);
    d->mface = NULL;
}
