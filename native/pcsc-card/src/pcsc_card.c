/*
 * One card connection with PC/SC transactions, for nhiicc.
 *
 * The pcsclite binding has no SCardBeginTransaction (upstream issue
 * santigimeno/node-pcsclite#71), so another program sharing the card could
 * slip APDUs between ours. This addon does only the card I/O: connect in
 * shared mode, begin/end a transaction, transmit, disconnect. Reader and card
 * monitoring stay with pcsclite. Every PC/SC call runs on libuv's thread pool
 * (they block); callers serialize calls on one connection.
 *
 * beginTransaction can also send the caller's planned APDUs in the same
 * thread-pool job: each hop between the thread pool and the event loop is a
 * thread wake-up, which on a small or virtualized machine costs about as much
 * as an APDU to a fast reader; a GetBasic used to make four. transmitPlan
 * sends a plan alone, for a caller that still holds its transaction.
 */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <stdbool.h>

#ifdef _WIN32
#include <winscard.h>
#else
#ifdef __APPLE__
#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>
#else
#include <winscard.h>
#endif
#endif

#ifndef SCARD_PROTOCOL_ANY
#define SCARD_PROTOCOL_ANY (SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1)
#endif

#define MAX_RESPONSE 4096
#define MAX_APDU 4096
#define MAX_PLAN 8
#define SW_OK_1 0x90
#define SW_OK_2 0x00

typedef struct {
  SCARDCONTEXT context;
  SCARDHANDLE card;
  DWORD protocol;
  int open;
} connection_t;

typedef enum { OP_CONNECT, OP_BEGIN, OP_PLAN, OP_END, OP_TRANSMIT, OP_DISCONNECT } op_t;

typedef struct {
  unsigned char *apdu;
  size_t apdu_len;
  unsigned char *response;
  DWORD response_len;
} planned_t;

typedef struct {
  op_t op;
  connection_t *conn;
  char *reader;
  unsigned char apdu[MAX_APDU];
  size_t apdu_len;
  unsigned char response[MAX_RESPONSE];
  DWORD response_len;
  LONG rv;
  planned_t plan[MAX_PLAN];
  size_t plan_len;
  /* Planned APDUs answered, the last one possibly with a status other than 9000. */
  size_t plan_done;
  const char *call;
  napi_deferred deferred;
  napi_async_work work;
  napi_ref conn_ref;
} request_t;

#define CHECK(env, expr)                                                     \
  do {                                                                       \
    if ((expr) != napi_ok) {                                                 \
      napi_throw_error((env), NULL, "pcsc_card: N-API call failed: " #expr); \
      return NULL;                                                           \
    }                                                                        \
  } while (0)

static void finalize_connection(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  connection_t *conn = (connection_t *)data;
  /* A connection dropped without disconnect(): release it here. */
  if (conn->open) {
    SCardDisconnect(conn->card, SCARD_LEAVE_CARD);
    SCardReleaseContext(conn->context);
  }
  free(conn);
}

static const SCARD_IO_REQUEST *pci_of(connection_t *conn) {
  return conn->protocol == SCARD_PROTOCOL_T1 ? SCARD_PCI_T1 : SCARD_PCI_T0;
}

/*
 * Sends planned APDUs until one is not answered 9000 or fails: exactly the
 * prefix a caller that stops at the first unexpected answer would send. A
 * failed transmit is not reported here; the caller sends that APDU itself
 * and meets the error where it expects it.
 */
static void run_plan(request_t *req) {
  connection_t *conn = req->conn;
  for (size_t i = 0; i < req->plan_len; i++) {
    planned_t *p = &req->plan[i];
    p->response_len = MAX_RESPONSE;
    if (SCardTransmit(conn->card, pci_of(conn), p->apdu, (DWORD)p->apdu_len, NULL, p->response, &p->response_len) != SCARD_S_SUCCESS) return;
    req->plan_done = i + 1;
    if (p->response_len < 2 || p->response[p->response_len - 2] != SW_OK_1 || p->response[p->response_len - 1] != SW_OK_2) return;
  }
}

static void execute(napi_env env, void *data) {
  (void)env;
  request_t *req = (request_t *)data;
  connection_t *conn = req->conn;
  switch (req->op) {
    case OP_CONNECT:
      req->call = "SCardEstablishContext";
      req->rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &conn->context);
      if (req->rv != SCARD_S_SUCCESS) return;
      req->call = "SCardConnect";
      req->rv = SCardConnect(conn->context, req->reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_ANY, &conn->card, &conn->protocol);
      if (req->rv != SCARD_S_SUCCESS) {
        SCardReleaseContext(conn->context);
        return;
      }
      conn->open = 1;
      return;
    case OP_BEGIN:
      req->call = "SCardBeginTransaction";
      req->rv = conn->open ? SCardBeginTransaction(conn->card) : (LONG)SCARD_E_INVALID_HANDLE;
      if (req->rv == SCARD_S_SUCCESS) run_plan(req);
      return;
    case OP_PLAN:
      req->call = "SCardTransmit";
      req->rv = conn->open ? SCARD_S_SUCCESS : (LONG)SCARD_E_INVALID_HANDLE;
      if (req->rv == SCARD_S_SUCCESS) run_plan(req);
      return;
    case OP_END:
      req->call = "SCardEndTransaction";
      req->rv = conn->open ? SCardEndTransaction(conn->card, SCARD_LEAVE_CARD) : (LONG)SCARD_E_INVALID_HANDLE;
      return;
    case OP_TRANSMIT: {
      req->call = "SCardTransmit";
      if (!conn->open) {
        req->rv = (LONG)SCARD_E_INVALID_HANDLE;
        return;
      }
      req->response_len = MAX_RESPONSE;
      req->rv = SCardTransmit(conn->card, pci_of(conn), req->apdu, (DWORD)req->apdu_len, NULL, req->response, &req->response_len);
      return;
    }
    case OP_DISCONNECT:
      req->call = "SCardDisconnect";
      if (!conn->open) {
        req->rv = SCARD_S_SUCCESS;
        return;
      }
      req->rv = SCardDisconnect(conn->card, SCARD_LEAVE_CARD);
      SCardReleaseContext(conn->context);
      conn->open = 0;
      return;
  }
}

static void free_request(request_t *req) {
  for (size_t i = 0; i < req->plan_len; i++) {
    free(req->plan[i].apdu);
    free(req->plan[i].response);
  }
  free(req->reader);
  free(req);
}

static void complete(napi_env env, napi_status status, void *data) {
  request_t *req = (request_t *)data;
  napi_value result = NULL;
  if (status != napi_ok || req->rv != SCARD_S_SUCCESS) {
    /* The hex code in the message is what nhiicc's error mapping reads. */
    char message[128];
    snprintf(message, sizeof message, "%s failed (0x%08lX)", req->call ? req->call : "PC/SC", (unsigned long)(status != napi_ok ? 0x80100001UL : (unsigned long)req->rv));
    napi_value msg, err;
    napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, req->deferred, err);
  } else {
    if (req->op == OP_TRANSMIT) {
      void *copy;
      napi_create_buffer_copy(env, req->response_len, req->response, &copy, &result);
    } else if (req->op == OP_BEGIN || req->op == OP_PLAN) {
      napi_create_array_with_length(env, req->plan_done, &result);
      for (size_t i = 0; i < req->plan_done; i++) {
        napi_value buffer;
        void *copy;
        napi_create_buffer_copy(env, req->plan[i].response_len, req->plan[i].response, &copy, &buffer);
        napi_set_element(env, result, (uint32_t)i, buffer);
      }
    } else if (req->op == OP_CONNECT) {
      napi_get_reference_value(env, req->conn_ref, &result);
    } else {
      napi_get_undefined(env, &result);
    }
    napi_resolve_deferred(env, req->deferred, result);
  }
  if (req->conn_ref) napi_delete_reference(env, req->conn_ref);
  napi_delete_async_work(env, req->work);
  free_request(req);
}

static napi_value queue(napi_env env, request_t *req, napi_value conn_obj) {
  napi_value promise, name;
  CHECK(env, napi_create_promise(env, &req->deferred, &promise));
  /* Keep the connection object alive while a call on it is under way. */
  CHECK(env, napi_create_reference(env, conn_obj, 1, &req->conn_ref));
  CHECK(env, napi_create_string_utf8(env, "nhiicc-pcsc-card", NAPI_AUTO_LENGTH, &name));
  CHECK(env, napi_create_async_work(env, NULL, name, execute, complete, req, &req->work));
  CHECK(env, napi_queue_async_work(env, req->work));
  return promise;
}

static connection_t *unwrap(napi_env env, napi_value value) {
  connection_t *conn = NULL;
  if (napi_get_value_external(env, value, (void **)&conn) != napi_ok || conn == NULL) {
    napi_throw_type_error(env, NULL, "pcsc_card: not a connection");
    return NULL;
  }
  return conn;
}

/* connect(readerName) → Promise<connection> */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], NULL, 0, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "connect(readerName) needs a reader name");
    return NULL;
  }
  request_t *req = calloc(1, sizeof *req);
  connection_t *conn = calloc(1, sizeof *conn);
  req->reader = malloc(len + 1);
  napi_get_value_string_utf8(env, argv[0], req->reader, len + 1, &len);
  req->op = OP_CONNECT;
  req->conn = conn;
  napi_value external;
  CHECK(env, napi_create_external(env, conn, finalize_connection, NULL, &external));
  return queue(env, req, external);
}

/* Copies the planned APDUs; an undefined plan is an empty one. */
static int read_plan(napi_env env, request_t *req, napi_value plan) {
  napi_valuetype type;
  if (napi_typeof(env, plan, &type) != napi_ok) return 0;
  if (type == napi_undefined) return 1;
  bool is_array = false;
  uint32_t count = 0;
  if (napi_is_array(env, plan, &is_array) != napi_ok || !is_array) return 0;
  if (napi_get_array_length(env, plan, &count) != napi_ok || count > MAX_PLAN) return 0;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    void *data;
    size_t length;
    if (napi_get_element(env, plan, i, &element) != napi_ok) return 0;
    if (napi_get_buffer_info(env, element, &data, &length) != napi_ok || length == 0 || length > MAX_APDU) return 0;
    planned_t *p = &req->plan[req->plan_len++];
    p->apdu = malloc(length);
    p->response = malloc(MAX_RESPONSE);
    if (!p->apdu || !p->response) return 0;
    memcpy(p->apdu, data, length);
    p->apdu_len = length;
  }
  return 1;
}

static napi_value simple(napi_env env, napi_callback_info info, op_t op) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "pcsc_card: missing connection");
    return NULL;
  }
  connection_t *conn = unwrap(env, argv[0]);
  if (!conn) return NULL;
  request_t *req = calloc(1, sizeof *req);
  req->op = op;
  req->conn = conn;
  if (op == OP_TRANSMIT) {
    void *data;
    size_t length;
    if (argc < 2 || napi_get_buffer_info(env, argv[1], &data, &length) != napi_ok || length == 0 || length > MAX_APDU) {
      free(req);
      napi_throw_type_error(env, NULL, "transmit(connection, apdu) needs a Buffer of 1..4096 bytes");
      return NULL;
    }
    memcpy(req->apdu, data, length);
    req->apdu_len = length;
  }
  if ((op == OP_BEGIN || op == OP_PLAN) && argc >= 2 && !read_plan(env, req, argv[1])) {
    free_request(req);
    napi_throw_type_error(env, NULL, "a plan must be an array of at most 8 Buffers of 1..4096 bytes");
    return NULL;
  }
  return queue(env, req, argv[0]);
}

static napi_value js_begin(napi_env env, napi_callback_info info) { return simple(env, info, OP_BEGIN); }
static napi_value js_plan(napi_env env, napi_callback_info info) { return simple(env, info, OP_PLAN); }
static napi_value js_end(napi_env env, napi_callback_info info) { return simple(env, info, OP_END); }
static napi_value js_transmit(napi_env env, napi_callback_info info) { return simple(env, info, OP_TRANSMIT); }
static napi_value js_disconnect(napi_env env, napi_callback_info info) { return simple(env, info, OP_DISCONNECT); }

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
    {"beginTransaction", NULL, js_begin, NULL, NULL, NULL, napi_default, NULL},
    {"transmitPlan", NULL, js_plan, NULL, NULL, NULL, napi_default, NULL},
    {"endTransaction", NULL, js_end, NULL, NULL, NULL, napi_default, NULL},
    {"transmit", NULL, js_transmit, NULL, NULL, NULL, napi_default, NULL},
    {"disconnect", NULL, js_disconnect, NULL, NULL, NULL, napi_default, NULL},
  };
  CHECK(env, napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
