/* Core: generated document ids. */
#ifndef KRC_DB_ID_H
#define KRC_DB_ID_H

/* any thread. Writes a new id into out: 24 lowercase hex digits, the Unix
 * time in seconds (8 digits, so ids sort roughly by creation, like MongoDB
 * ObjectIds) then 64 bits from getrandom(). 0, or KR_EINTERNAL with the
 * message set when the kernel gives no randomness. */
int krc_db_id_new(char out[25]);

#endif
