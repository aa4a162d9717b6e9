/*
 * policy.c - danced's Postfix policy face: open it, and what the daemon
 * asks of it.
 *
 * USAGE
 *	policy_open(d, cfg, err, size);	(main.c, before daemonizing)
 *	... the daemon drives the face's listener (face.h) ...
 *
 * DESCRIPTION
 *	The face's listener (danced/listen.h) hands every accepted
 *	connection to session_accept() (session.c).  At max_connections
 *	the daemon's listener stops accepting until one closes (the
 *	kernel's backlog holds the next); the limit is the face's own, so
 *	policy connections can never take the milter's descriptors.
 *	Stopping: the listener closes; idle sessions close at once, the
 *	others after the reply in progress.
 */
#include <stdlib.h>

#include "lib/config.h"
#include "lib/panic.h"
#include "danced/face.h"
#include "policy.h"
#include "policy_private.h"

static size_t policy_limit(const dance_config *cfg);
static void policy_free(void *face);

static const danced_face_ops policy_ops = {
    .name = "policy",
    .limit_key = "max_connections",
    .limit = policy_limit,
    .accept = session_accept,
    .free = policy_free,
};

/* policy_open - bind policy_socket and register the face. */
policy_face_status policy_open(danced *d, const dance_config *cfg, char *err, size_t errsize)
{
    policy_face *pf = xcalloc(1, sizeof(*pf));

    pf->d = d;
    switch (listen_open("policy_socket", cfg->policy_socket, cfg->socket_mode, cfg->socket_group,
                        &pf->srv, err, errsize)) {
    case LISTEN_OK:
        break;
    case LISTEN_BAD_ENDPOINT:
        free(pf);
        return POLICY_FACE_BAD_ENDPOINT;
    case LISTEN_ENVIRONMENT:
    default:
        free(pf);
        return POLICY_FACE_ENVIRONMENT;
    }
    danced_add_face(d, &policy_ops, pf, pf->srv);
    return POLICY_FACE_OK;
}

/* policy_limit - the face's connection limit: max_connections. */
static size_t policy_limit(const dance_config *cfg)
{
    return cfg->max_connections;
}

/* policy_free - release the face (the daemon closed its sessions and freed its listener). */
static void policy_free(void *face)
{
    free(face);
}
