/*
 * milter.c - danced's milter face: open it, and what the daemon asks of it.
 *
 * USAGE
 *	milter_open(d, cfg, err, size);	(main.c, before daemonizing)
 *	... the daemon drives the face's listener (face.h) ...
 *
 * DESCRIPTION
 *	The face's listener (danced/listen.h) hands every accepted
 *	connection to mconn_accept() (mconn.c).  At milter_max_connections
 *	the daemon's listener stops accepting
 *	until one closes (the kernel's backlog holds the next MTA
 *	connections); its limit is its own, so idle milter connections can
 *	never take the policy face's descriptors: danced's open-file limit
 *	counts both faces' limits and the resolver's queries in flight.
 *
 *	Stopping: the listener closes; a connection with no message in
 *	progress closes at once (the MTA applies its default_action -
 *	tempfail, as recommended - to the rest of that SMTP session), the
 *	others once their message has ended; while danced stops, a new
 *	message on them is answered tempfail.
 */
#include <stdlib.h>
#include <sys/socket.h>

#include "lib/config.h"
#include "lib/endpoint.h"
#include "lib/panic.h"
#include "danced/face.h"
#include "milter.h"
#include "milter_private.h"

static size_t milter_limit(const dance_config *cfg);
static void milter_free(void *face);

static const danced_face_ops milter_ops = {
    .name = "milter",
    .limit_key = "milter_max_connections",
    .limit = milter_limit,
    .accept = mconn_accept,
    .free = milter_free,
};

/* milter_open - bind milter_socket and register the face. */
milter_status milter_open(danced *d, const dance_config *cfg, char *err, size_t errsize)
{
    milter_face *mf = xcalloc(1, sizeof(*mf));
    endpoint ep;
    char why[256];

    mf->d = d;
    switch (listen_open("milter_socket", cfg->milter_socket, cfg->socket_mode, cfg->socket_group,
                        &mf->srv, err, errsize)) {
    case LISTEN_OK:
        break;
    case LISTEN_BAD_ENDPOINT:
        free(mf);
        return MILTER_BAD_ENDPOINT;
    case LISTEN_ENVIRONMENT:
    default:
        free(mf);
        return MILTER_ENVIRONMENT;
    }
    /* bound, so it parses: TCP connections get TCP_NODELAY (mconn.c) */
    mf->inet = endpoint_parse(cfg->milter_socket, &ep, why, sizeof(why)) && ep.family != AF_UNIX;
    danced_add_face(d, &milter_ops, mf, mf->srv);
    return MILTER_OK;
}

/* milter_limit - the face's connection limit: milter_max_connections. */
static size_t milter_limit(const dance_config *cfg)
{
    return cfg->milter_max_connections;
}

/* milter_free - release the face (the daemon closed its connections and freed its listener). */
static void milter_free(void *face)
{
    free(face);
}
