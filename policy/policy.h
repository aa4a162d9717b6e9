/*
 * policy.h - danced's Postfix policy face.
 *
 * Postfix's smtpd asks at RCPT TO (relay) and at DATA (the header, or the
 * verdicts for the milter) over the policy delegation protocol; this face
 * answers from the TLSA checks of the SMTP client's claimed names.  It is
 * opened by main.c and driven by the daemon through face.h.
 */
#ifndef DANCE_POLICY_POLICY_H
#define DANCE_POLICY_POLICY_H

#include <stddef.h>

typedef struct danced danced;
struct dance_config;

typedef enum {
    POLICY_FACE_OK = 0,
    POLICY_FACE_BAD_ENDPOINT,         /* bad input: the policy_socket value */
    POLICY_FACE_ENVIRONMENT           /* bad environment: bind, socket file, group */
} policy_face_status;

/*
 * policy_open - bind cfg's policy_socket (unix sockets get socket_mode
 * and socket_group) and register the face with d; err says why not.
 */
policy_face_status policy_open(danced *d, const struct dance_config *cfg, char *err, size_t errsize);

#endif
