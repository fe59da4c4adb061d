/*
 * kernel/parse.c - an indentation-aware Python lexer and a recursive-
 * descent parser for the kernel language, into an arena-allocated AST.
 *
 * The lexer turns the whole text into tokens first (NEWLINE, INDENT and
 * DEDENT as Python's tokenizer makes them; newlines inside brackets and
 * after a backslash are whitespace). The parser follows Python's grammar
 * for the statements and expressions the kernel language has and names
 * every other construct it meets (import, lambda, comprehension, string,
 * ...) in a NDP_ESYNTAX error with its line. Nesting is limited to
 * NDP__KMAXDEPTH and the node count to NDP__KMAXNODES, so no input can
 * overflow the stack or exhaust memory; errors carry the line number
 * (st->pos) and never the byte offset.
 *
 * Module level: decorators are skipped, `import`/`from` lines ignored,
 * NAME = number assignments kept as constants, other defs skipped.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/kernel_internal.h"

/* ---- arena --------------------------------------------------------------- */

struct ndp__kchunk {
  struct ndp__kchunk *next;
  size_t cap;
  _Alignas(16) char data[];
};

void *ndp__karena_alloc(ndp__karena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (!a->head || a->used + n > a->cap) {
    size_t cap = n > 65536 ? n : 65536;
    struct ndp__kchunk *c = ndp__malloc(sizeof *c + cap);
    if (!c) return NULL;
    c->next = a->head;
    c->cap = cap;
    a->head = c;
    a->used = 0;
    a->cap = cap;
  }
  void *p = a->head->data + a->used;
  a->used += n;
  memset(p, 0, n);
  return p;
}

void ndp__karena_free(ndp__karena *a) {
  struct ndp__kchunk *c = a->head;
  while (c) {
    struct ndp__kchunk *nx = c->next;
    ndp__free(c);
    c = nx;
  }
  a->head = NULL;
  a->used = a->cap = 0;
}

int ndp__kfail(ndp_status *st, int code, int line, const char *fmt, ...) {
  if (st) {
    char m[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    st->code = code;
    snprintf(st->msg, sizeof st->msg, "%s (line %d)", m, line);
    st->pos = line;
  }
  return code;
}

/* ---- lexer --------------------------------------------------------------- */

enum { T_EOF, T_NEWLINE, T_INDENT, T_DEDENT, T_NAME, T_INT, T_FLOAT, T_STR, T_OP };

typedef struct ktok {
  int kind, line, len;
  const char *s;
  int64_t ival;
  double fval;
} ktok;

typedef struct lexer {
  const char *src;
  int first_line;
  ktok *t;
  int nt, cap;
  ndp_status *st;
} lexer;

static int push(lexer *L, int kind, int line, const char *s, int len) {
  if (L->nt == L->cap) {
    int nc = L->cap ? L->cap * 2 : 256;
    ktok *t = ndp__malloc((size_t)nc * sizeof *t);
    if (!t) return ndp__fail(L->st, NDP_ENOMEM, "kernel: out of memory");
    if (L->t) memcpy(t, L->t, (size_t)L->nt * sizeof *t);
    ndp__free(L->t);
    L->t = t;
    L->cap = nc;
  }
  ktok *k = &L->t[L->nt++];
  memset(k, 0, sizeof *k);
  k->kind = kind;
  k->line = line;
  k->s = s;
  k->len = len;
  return 0;
}

static const char *ops3[] = {"**=", "//=", ">>=", "<<=", "...", NULL};
static const char *ops2[] = {"**", "//", "==", "!=", "<=", ">=", "->", "+=", "-=", "*=",
                             "/=", "%=", "&=", "|=", "^=", "<<", ">>", ":=", "@=", NULL};
static const char ops1[] = "+-*/%<>=()[]{},:.;@&|^~!";

static int lex_number(lexer *L, const char **pp, int line) {
  const char *p = *pp, *s = p;
  char buf[128];
  int n = 0, isf = 0, base = 10;
  if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X' || p[1] == 'o' || p[1] == 'O' ||
                      p[1] == 'b' || p[1] == 'B')) {
    base = (p[1] == 'x' || p[1] == 'X') ? 16 : (p[1] == 'o' || p[1] == 'O') ? 8 : 2;
    p += 2;
    while (isalnum((unsigned char)*p) || *p == '_') {
      if (*p != '_' && n < 120) buf[n++] = *p;
      p++;
    }
  } else {
    while (isdigit((unsigned char)*p) || *p == '_' || *p == '.' ||
           ((*p == 'e' || *p == 'E') && !isf) || ((*p == 'e' || *p == 'E'))) {
      if (*p == '.') isf = 1;
      if (*p == 'e' || *p == 'E') {
        isf = 1;
        if (n < 120) buf[n++] = *p;
        p++;
        if (*p == '+' || *p == '-') {
          if (n < 120) buf[n++] = *p;
          p++;
        }
        continue;
      }
      if (*p != '_' && n < 120) buf[n++] = *p;
      p++;
    }
  }
  buf[n] = 0;
  if (*p == 'j' || *p == 'J')
    return ndp__kfail(L->st, NDP_ESYNTAX, line, "complex numbers are not supported");
  if (isalpha((unsigned char)*p) || *p == '_' || n >= 120 || n == 0)
    return ndp__kfail(L->st, NDP_ESYNTAX, line, "invalid number literal");
  int rc = push(L, isf ? T_FLOAT : T_INT, line, s, (int)(p - s));
  if (rc) return rc;
  ktok *k = &L->t[L->nt - 1];
  char *end;
  errno = 0;
  if (isf) {
    k->fval = strtod(buf, &end);
    if (*end) return ndp__kfail(L->st, NDP_ESYNTAX, line, "invalid number literal");
  } else {
    unsigned long long v = strtoull(buf, &end, base);
    if (*end) return ndp__kfail(L->st, NDP_ESYNTAX, line, "invalid number literal");
    if (errno == ERANGE || v > (unsigned long long)INT64_MAX)
      return ndp__kfail(L->st, NDP_ESYNTAX, line,
                        "integer literal %.40s does not fit int64 (kernel ints are int64)", buf);
    k->ival = (int64_t)v;
  }
  *pp = p;
  return 0;
}

/* Skips a string literal starting at p (after any prefix letters). */
static int lex_string(lexer *L, const char **pp, int *line, const char *start) {
  const char *p = *pp;
  char q = *p;
  int triple = p[1] == q && p[2] == q;
  int l0 = *line;
  p += triple ? 3 : 1;
  for (;;) {
    if (!*p) return ndp__kfail(L->st, NDP_ESYNTAX, l0, "unterminated string literal");
    if (*p == '\\' && p[1]) {
      if (p[1] == '\n') (*line)++;
      p += 2;
      continue;
    }
    if (*p == '\n') {
      if (!triple) return ndp__kfail(L->st, NDP_ESYNTAX, l0, "unterminated string literal");
      (*line)++;
    }
    if (*p == q && (!triple || (p[1] == q && p[2] == q))) {
      p += triple ? 3 : 1;
      break;
    }
    p++;
  }
  *pp = p;
  return push(L, T_STR, l0, start, (int)(p - start));
}

static int lex(lexer *L) {
  const char *p = L->src;
  int line = L->first_line, depth = 0, rc;
  int indents[NDP__KMAXDEPTH + 2], ni = 1;
  indents[0] = 0;
  int at_bol = 1;
  while (*p) {
    if (at_bol && depth == 0) {
      int col = 0;
      const char *q = p;
      while (*q == ' ' || *q == '\t' || *q == '\f') {
        col = *q == '\t' ? (col / 8 + 1) * 8 : *q == '\f' ? 0 : col + 1;
        q++;
      }
      if (*q == '\n' || *q == '#' || *q == '\r' || !*q) { /* blank or comment line */
        while (*q && *q != '\n') q++;
        if (*q == '\n') {
          q++;
          line++;
        }
        p = q;
        continue;
      }
      p = q;
      at_bol = 0;
      if (col > indents[ni - 1]) {
        if (ni > NDP__KMAXDEPTH)
          return ndp__kfail(L->st, NDP_ESYNTAX, line, "too deeply nested");
        indents[ni++] = col;
        if ((rc = push(L, T_INDENT, line, p, 0))) return rc;
      } else {
        while (col < indents[ni - 1]) {
          ni--;
          if ((rc = push(L, T_DEDENT, line, p, 0))) return rc;
        }
        if (col != indents[ni - 1])
          return ndp__kfail(L->st, NDP_ESYNTAX, line,
                            "unindent does not match any outer indentation level");
      }
    }
    char ch = *p;
    if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\f') {
      p++;
      continue;
    }
    if (ch == '#') {
      while (*p && *p != '\n') p++;
      continue;
    }
    if (ch == '\\' && (p[1] == '\n' || (p[1] == '\r' && p[2] == '\n'))) {
      p += p[1] == '\n' ? 2 : 3;
      line++;
      continue;
    }
    if (ch == '\n') {
      if (depth == 0) {
        if ((rc = push(L, T_NEWLINE, line, p, 0))) return rc;
        at_bol = 1;
      }
      line++;
      p++;
      continue;
    }
    if (isdigit((unsigned char)ch) || (ch == '.' && isdigit((unsigned char)p[1]))) {
      if ((rc = lex_number(L, &p, line))) return rc;
      continue;
    }
    if (isalpha((unsigned char)ch) || ch == '_' || (unsigned char)ch >= 0x80) {
      const char *s = p;
      while (isalnum((unsigned char)*p) || *p == '_' || (unsigned char)*p >= 0x80) p++;
      int len = (int)(p - s);
      if ((*p == '\'' || *p == '"') && len <= 3) {
        int ok = 1;
        for (int i = 0; i < len; i++) ok &= strchr("rRbBfFuU", s[i]) != NULL;
        if (ok) {
          if ((rc = lex_string(L, &p, &line, s))) return rc;
          continue;
        }
      }
      if ((rc = push(L, T_NAME, line, s, len))) return rc;
      continue;
    }
    if (ch == '\'' || ch == '"') {
      if ((rc = lex_string(L, &p, &line, p))) return rc;
      continue;
    }
    int len = 0;
    for (int i = 0; ops3[i] && !len; i++)
      if (strncmp(p, ops3[i], 3) == 0) len = 3;
    for (int i = 0; ops2[i] && !len; i++)
      if (strncmp(p, ops2[i], 2) == 0) len = 2;
    if (!len && strchr(ops1, ch)) len = 1;
    if (!len) {
      if ((unsigned char)ch < 0x20 || (unsigned char)ch == 0x7f)
        return ndp__kfail(L->st, NDP_ESYNTAX, line, "invalid character (code %d)", (unsigned char)ch);
      return ndp__kfail(L->st, NDP_ESYNTAX, line, "invalid character '%c'", ch);
    }
    if (ch == '(' || ch == '[' || ch == '{') {
      if (++depth > 200) return ndp__kfail(L->st, NDP_ESYNTAX, line, "too deeply nested");
    }
    if ((ch == ')' || ch == ']' || ch == '}') && len == 1) {
      if (depth == 0) return ndp__kfail(L->st, NDP_ESYNTAX, line, "unmatched '%c'", ch);
      depth--;
    }
    if ((rc = push(L, T_OP, line, p, len))) return rc;
    p += len;
    if (L->nt > NDP__KMAXNODES * 2)
      return ndp__kfail(L->st, NDP_ESYNTAX, line, "kernel too long");
  }
  if (depth) return ndp__kfail(L->st, NDP_ESYNTAX, line, "unexpected end of text inside brackets");
  if (L->nt && L->t[L->nt - 1].kind != T_NEWLINE && L->t[L->nt - 1].kind != T_DEDENT)
    if ((rc = push(L, T_NEWLINE, line, p, 0))) return rc;
  while (ni > 1) {
    ni--;
    if ((rc = push(L, T_DEDENT, line, p, 0))) return rc;
  }
  return push(L, T_EOF, line, p, 0);
}

/* ---- parser -------------------------------------------------------------- */

typedef struct parser {
  lexer L;
  int i;
  int depth;
  ndp__karena *ar;
  ndp_status *st;
  int err;
} parser;

#define CUR(P) (&(P)->L.t[(P)->i])

static int is_op(parser *P, const char *op) {
  ktok *t = CUR(P);
  return t->kind == T_OP && t->len == (int)strlen(op) && memcmp(t->s, op, (size_t)t->len) == 0;
}
static int is_kw(parser *P, const char *kw) {
  ktok *t = CUR(P);
  return t->kind == T_NAME && t->len == (int)strlen(kw) && memcmp(t->s, kw, (size_t)t->len) == 0;
}
static int tok_is(const ktok *t, const char *s) {
  return t->len == (int)strlen(s) && memcmp(t->s, s, (size_t)t->len) == 0;
}

static const char *keywords[] = {"False", "None", "True", "and", "as", "assert", "async",
                                 "await", "break", "class", "continue", "def", "del", "elif",
                                 "else", "except", "finally", "for", "from", "global", "if",
                                 "import", "in", "is", "lambda", "nonlocal", "not", "or",
                                 "pass", "raise", "return", "try", "while", "with", "yield",
                                 NULL};
static int is_keyword(const ktok *t) {
  if (t->kind != T_NAME) return 0;
  for (int i = 0; keywords[i]; i++)
    if (tok_is(t, keywords[i])) return 1;
  return 0;
}

static int fail(parser *P, int code, int line, const char *fmt, ...) NDP__PRINTF(4, 5);
static int fail(parser *P, int code, int line, const char *fmt, ...) {
  if (P->err) return P->err;
  char m[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  P->err = ndp__kfail(P->st, code, line, "%s", m);
  return P->err;
}

static void describe(const ktok *t, char *buf, size_t cap) {
  switch (t->kind) {
  case T_EOF: snprintf(buf, cap, "end of text"); break;
  case T_NEWLINE: snprintf(buf, cap, "end of line"); break;
  case T_INDENT: snprintf(buf, cap, "indent"); break;
  case T_DEDENT: snprintf(buf, cap, "dedent"); break;
  default: snprintf(buf, cap, "'%.*s'", t->len > 30 ? 30 : t->len, t->s); break;
  }
}

static int expect_op(parser *P, const char *op) {
  if (P->err) return P->err;
  if (!is_op(P, op)) {
    char d[48];
    describe(CUR(P), d, sizeof d);
    return fail(P, NDP_ESYNTAX, CUR(P)->line, "expected '%s', found %s", op, d);
  }
  P->i++;
  return 0;
}

static ndp__knode *node(parser *P, int kind, int line) {
  if (P->err) return NULL;
  if (++P->ar->nodes > NDP__KMAXNODES) {
    fail(P, NDP_ESYNTAX, line, "kernel too long (more than %d nodes)", NDP__KMAXNODES);
    return NULL;
  }
  ndp__knode *n = ndp__karena_alloc(P->ar, sizeof *n);
  if (!n) {
    P->err = ndp__fail(P->st, NDP_ENOMEM, "kernel: out of memory");
    return NULL;
  }
  n->kind = kind;
  n->line = line;
  return n;
}

static const char *intern(parser *P, const ktok *t) {
  char *s = ndp__karena_alloc(P->ar, (size_t)t->len + 1);
  if (!s) {
    P->err = ndp__fail(P->st, NDP_ENOMEM, "kernel: out of memory");
    return "";
  }
  memcpy(s, t->s, (size_t)t->len);
  s[t->len] = 0;
  return s;
}

/* A growable list of node pointers, copied into the arena when done. */
typedef struct nlist {
  ndp__knode *small[16];
  ndp__knode **v;
  int n, cap;
} nlist;
static void nl_init(nlist *l) {
  l->v = l->small;
  l->n = 0;
  l->cap = 16;
}
static int nl_push(parser *P, nlist *l, ndp__knode *x) {
  if (l->n == l->cap) {
    ndp__knode **nv = ndp__malloc(sizeof *nv * (size_t)l->cap * 2);
    if (!nv) return P->err = ndp__fail(P->st, NDP_ENOMEM, "kernel: out of memory");
    memcpy(nv, l->v, sizeof *nv * (size_t)l->n);
    if (l->v != l->small) ndp__free(l->v);
    l->v = nv;
    l->cap *= 2;
  }
  l->v[l->n++] = x;
  return 0;
}
static ndp__knode **nl_done(parser *P, nlist *l, int *n) {
  ndp__knode **out = NULL;
  if (!P->err && l->n) {
    out = ndp__karena_alloc(P->ar, sizeof *out * (size_t)l->n);
    if (out) memcpy(out, l->v, sizeof *out * (size_t)l->n);
    else P->err = ndp__fail(P->st, NDP_ENOMEM, "kernel: out of memory");
  }
  *n = l->n;
  if (l->v != l->small) ndp__free(l->v);
  nl_init(l);
  return out;
}

static ndp__knode *expr(parser *P);
static ndp__knode *or_test(parser *P);

/* Sets n's height from its children; refuses trees the compiler could not
 * walk without deep recursion. Returns n or NULL. */
static ndp__knode *height(parser *P, ndp__knode *n) {
  if (!n || P->err) return NULL;
  int h = 0;
  ndp__knode *k[3] = {n->a, n->b, n->c};
  for (int i = 0; i < 3; i++)
    if (k[i] && k[i]->depth > h) h = k[i]->depth;
  for (int i = 0; i < n->n; i++)
    if (n->list[i] && n->list[i]->depth > h) h = n->list[i]->depth;
  n->depth = h + 1;
  if (n->depth > NDP__KMAXHEIGHT) {
    fail(P, NDP_ESYNTAX, n->line, "expression too deeply nested (more than %d levels)",
         NDP__KMAXHEIGHT);
    return NULL;
  }
  return n;
}

static int enter(parser *P) {
  if (++P->depth > NDP__KMAXDEPTH)
    return fail(P, NDP_ESYNTAX, CUR(P)->line, "too deeply nested (more than %d levels)",
                NDP__KMAXDEPTH);
  return P->err;
}

/* Names constructs that the kernel language does not have. */
static ndp__knode *unsupported(parser *P, const char *what) {
  fail(P, NDP_ESYNTAX, CUR(P)->line, "%s not supported in a kernel", what);
  return NULL;
}

static ndp__knode *call_args(parser *P, ndp__knode *fn, int line) {
  ndp__knode *c = node(P, N_CALL, line);
  if (!c) return NULL;
  c->a = fn;
  nlist l;
  nl_init(&l);
  P->i++; /* ( */
  while (!P->err && !is_op(P, ")")) {
    if (CUR(P)->kind == T_NAME && P->L.t[P->i + 1].kind == T_OP && tok_is(&P->L.t[P->i + 1], "=")) {
      unsupported(P, "keyword arguments are");
      break;
    }
    if (is_op(P, "*") || is_op(P, "**")) {
      unsupported(P, "argument unpacking is");
      break;
    }
    ndp__knode *x = expr(P);
    if (!x) break;
    if (is_kw(P, "for")) {
      unsupported(P, "generator expressions are");
      break;
    }
    nl_push(P, &l, x);
    if (!is_op(P, ",")) break;
    P->i++;
  }
  c->list = nl_done(P, &l, &c->n);
  if (expect_op(P, ")")) return NULL;
  return height(P, c);
}

static ndp__knode *atom(parser *P) {
  ktok *t = CUR(P);
  int line = t->line;
  ndp__knode *n = NULL;
  if (enter(P)) return NULL;
  if (t->kind == T_INT) {
    n = node(P, N_INT, line);
    if (n) n->ival = t->ival;
    P->i++;
  } else if (t->kind == T_FLOAT) {
    n = node(P, N_FLOAT, line);
    if (n) n->fval = t->fval;
    P->i++;
  } else if (t->kind == T_STR) {
    n = node(P, N_STR, line);
    P->i++;
    while (CUR(P)->kind == T_STR) P->i++; /* implicit concatenation */
  } else if (t->kind == T_NAME) {
    if (tok_is(t, "True") || tok_is(t, "False")) {
      n = node(P, N_BOOL, line);
      if (n) n->ival = tok_is(t, "True");
      P->i++;
    } else if (tok_is(t, "None")) {
      n = node(P, N_NONE, line);
      P->i++;
    } else if (tok_is(t, "lambda")) {
      return unsupported(P, "lambda is");
    } else if (tok_is(t, "yield") || tok_is(t, "await")) {
      return unsupported(P, tok_is(t, "yield") ? "yield is" : "await is");
    } else if (is_keyword(t)) {
      char d[48];
      describe(t, d, sizeof d);
      fail(P, NDP_ESYNTAX, line, "invalid syntax at %s", d);
      return NULL;
    } else {
      n = node(P, N_NAME, line);
      if (n) n->name = intern(P, t);
      P->i++;
    }
  } else if (is_op(P, "(")) {
    P->i++;
    if (is_op(P, ")")) return unsupported(P, "empty tuples are");
    n = expr(P);
    if (n && is_kw(P, "for")) return unsupported(P, "generator expressions are");
    if (n && is_op(P, ",")) {
      ndp__knode *tup = node(P, N_TUPLE, line);
      nlist l;
      nl_init(&l);
      nl_push(P, &l, n);
      while (!P->err && is_op(P, ",")) {
        P->i++;
        if (is_op(P, ")")) break;
        ndp__knode *x = expr(P);
        if (!x) break;
        nl_push(P, &l, x);
      }
      if (tup) tup->list = nl_done(P, &l, &tup->n);
      else nl_done(P, &l, &l.n);
      n = height(P, tup);
    }
    if (expect_op(P, ")")) return NULL;
  } else if (is_op(P, "[")) {
    return unsupported(P, "lists and list comprehensions are");
  } else if (is_op(P, "{")) {
    return unsupported(P, "dicts, sets and their comprehensions are");
  } else if (is_op(P, "...")) {
    return unsupported(P, "Ellipsis is");
  } else {
    char d[48];
    describe(t, d, sizeof d);
    fail(P, NDP_ESYNTAX, line, "invalid syntax at %s", d);
    return NULL;
  }
  /* trailers */
  while (n && !P->err) {
    if (is_op(P, "(")) {
      n = call_args(P, n, CUR(P)->line);
    } else if (is_op(P, ".")) {
      P->i++;
      ktok *a = CUR(P);
      if (a->kind != T_NAME || is_keyword(a)) {
        fail(P, NDP_ESYNTAX, a->line, "expected a name after '.'");
        return NULL;
      }
      ndp__knode *at = node(P, N_ATTR, a->line);
      if (!at) return NULL;
      at->a = n;
      at->name = intern(P, a);
      P->i++;
      n = height(P, at);
    } else if (is_op(P, "[")) {
      int l0 = CUR(P)->line;
      P->i++;
      ndp__knode *s = node(P, N_SUBSCR, l0);
      if (!s) return NULL;
      s->a = n;
      nlist l;
      nl_init(&l);
      while (!P->err) {
        if (is_op(P, ":")) {
          nl_done(P, &l, &l.n);
          return unsupported(P, "slices are");
        }
        ndp__knode *x = expr(P);
        if (!x) break;
        if (is_op(P, ":")) {
          nl_done(P, &l, &l.n);
          return unsupported(P, "slices are");
        }
        nl_push(P, &l, x);
        if (!is_op(P, ",")) break;
        P->i++;
      }
      s->list = nl_done(P, &l, &s->n);
      if (expect_op(P, "]")) return NULL;
      n = height(P, s);
    } else {
      break;
    }
  }
  P->depth--;
  return P->err ? NULL : n;
}

static ndp__knode *unary(parser *P);

static ndp__knode *power(parser *P) {
  ndp__knode *a = atom(P);
  if (a && is_op(P, "**")) {
    int line = CUR(P)->line;
    P->i++;
    if (enter(P)) return NULL;
    ndp__knode *b = unary(P);
    P->depth--;
    ndp__knode *n = node(P, N_BINOP, line);
    if (!n || !b) return NULL;
    n->op = O_POW;
    n->a = a;
    n->b = b;
    return height(P, n);
  }
  return a;
}

static ndp__knode *unary(parser *P) {
  int op = is_op(P, "-") ? O_NEG : is_op(P, "+") ? O_POS : is_op(P, "~") ? O_INV : -1;
  if (op < 0) return power(P);
  int line = CUR(P)->line;
  P->i++;
  if (enter(P)) return NULL;
  ndp__knode *a = unary(P);
  P->depth--;
  if (!a) return NULL;
  if (op == O_NEG && (a->kind == N_INT || a->kind == N_FLOAT) && !a->op) {
    /* fold -literal so -9223372036854775807 - 1 style constants stay exact */
    if (a->kind == N_INT) a->ival = -a->ival;
    else a->fval = -a->fval;
    a->op = 1; /* folded */
    return a;
  }
  ndp__knode *n = node(P, N_UNOP, line);
  if (!n) return NULL;
  n->op = op;
  n->a = a;
  return height(P, n);
}

typedef struct binlevel {
  const char *tok[5];
  int op[5];
} binlevel;

static const binlevel levels[] = {
    {{"|"}, {O_BOR}},
    {{"^"}, {O_BXOR}},
    {{"&"}, {O_BAND}},
    {{"<<", ">>"}, {-1, -1}},
    {{"+", "-"}, {O_ADD, O_SUB}},
    {{"*", "/", "//", "%", "@"}, {O_MUL, O_DIV, O_FLOORDIV, O_MOD, -2}},
};

static ndp__knode *binary(parser *P, int lvl) {
  if (lvl == (int)(sizeof levels / sizeof *levels)) return unary(P);
  if (enter(P)) return NULL;
  ndp__knode *a = binary(P, lvl + 1);
  while (a && !P->err) {
    int k = -1;
    for (int i = 0; i < 5 && levels[lvl].tok[i]; i++)
      if (is_op(P, levels[lvl].tok[i])) k = i;
    if (k < 0) break;
    int line = CUR(P)->line, op = levels[lvl].op[k];
    if (op == -1) return unsupported(P, "shift operators are");
    if (op == -2) return unsupported(P, "the matrix product '@' is");
    P->i++;
    ndp__knode *b = binary(P, lvl + 1);
    ndp__knode *n = node(P, N_BINOP, line);
    if (!n || !b) return NULL;
    n->op = op;
    n->a = a;
    n->b = b;
    a = height(P, n);
  }
  P->depth--;
  return a;
}

static int cmp_op(parser *P) {
  static const char *t[] = {"==", "!=", "<", "<=", ">", ">="};
  static const int o[] = {O_EQ, O_NE, O_LT, O_LE, O_GT, O_GE};
  for (int i = 0; i < 6; i++)
    if (is_op(P, t[i])) return o[i];
  if (is_kw(P, "in") || (is_kw(P, "not") && P->L.t[P->i + 1].kind == T_NAME &&
                         tok_is(&P->L.t[P->i + 1], "in"))) {
    unsupported(P, "'in' is");
    return -2;
  }
  if (is_kw(P, "is")) {
    unsupported(P, "'is' is");
    return -2;
  }
  return -1;
}

static ndp__knode *comparison(parser *P) {
  ndp__knode *a = binary(P, 0);
  if (!a) return NULL;
  int op = cmp_op(P);
  if (op == -2) return NULL;
  if (op < 0) return a;
  ndp__knode *n = node(P, N_CMP, CUR(P)->line);
  if (!n) return NULL;
  nlist l;
  nl_init(&l);
  nl_push(P, &l, a);
  int ops[64], no = 0;
  while (op >= 0 && !P->err) {
    if (no == 64) {
      fail(P, NDP_ESYNTAX, CUR(P)->line, "comparison chain too long");
      break;
    }
    ops[no++] = op;
    P->i++;
    ndp__knode *b = binary(P, 0);
    if (!b) break;
    nl_push(P, &l, b);
    op = cmp_op(P);
  }
  n->list = nl_done(P, &l, &n->n);
  if (P->err) return NULL;
  n->ops = ndp__karena_alloc(P->ar, sizeof(int) * (size_t)no);
  if (!n->ops) {
    P->err = ndp__fail(P->st, NDP_ENOMEM, "kernel: out of memory");
    return NULL;
  }
  memcpy(n->ops, ops, sizeof(int) * (size_t)no);
  return height(P, n);
}

static ndp__knode *not_test(parser *P) {
  if (is_kw(P, "not")) {
    int line = CUR(P)->line;
    P->i++;
    if (enter(P)) return NULL;
    ndp__knode *a = not_test(P);
    P->depth--;
    ndp__knode *n = node(P, N_UNOP, line);
    if (!n || !a) return NULL;
    n->op = O_NOT;
    n->a = a;
    return height(P, n);
  }
  return comparison(P);
}

static ndp__knode *boolop(parser *P, int op) {
  const char *kw = op == O_OR ? "or" : "and";
  ndp__knode *a = op == O_OR ? boolop(P, O_AND) : not_test(P);
  if (!a || !is_kw(P, kw)) return a;
  ndp__knode *n = node(P, N_BOOLOP, CUR(P)->line);
  if (!n) return NULL;
  n->op = op;
  nlist l;
  nl_init(&l);
  nl_push(P, &l, a);
  while (is_kw(P, kw) && !P->err) {
    P->i++;
    ndp__knode *b = op == O_OR ? boolop(P, O_AND) : not_test(P);
    if (!b) break;
    nl_push(P, &l, b);
  }
  n->list = nl_done(P, &l, &n->n);
  return P->err ? NULL : height(P, n);
}

static ndp__knode *or_test(parser *P) { return boolop(P, O_OR); }

static ndp__knode *expr(parser *P) {
  if (enter(P)) return NULL;
  ndp__knode *a = or_test(P);
  if (a && is_op(P, ":=")) return unsupported(P, "the walrus operator ':=' is");
  if (a && is_kw(P, "if")) {
    int line = CUR(P)->line;
    P->i++;
    ndp__knode *c = or_test(P);
    if (!c) return NULL;
    if (!is_kw(P, "else")) {
      fail(P, NDP_ESYNTAX, CUR(P)->line, "expected 'else' in a conditional expression");
      return NULL;
    }
    P->i++;
    ndp__knode *b = expr(P);
    ndp__knode *n = node(P, N_IFEXP, line);
    if (!n || !b) return NULL;
    n->a = c;
    n->b = a;
    n->c = b;
    a = height(P, n);
  }
  P->depth--;
  return P->err ? NULL : a;
}

/* expr (',' expr)* as one node (a tuple when there are commas) */
static ndp__knode *exprlist(parser *P) {
  int line = CUR(P)->line;
  ndp__knode *a = expr(P);
  if (!a || !is_op(P, ",")) return a;
  ndp__knode *t = node(P, N_TUPLE, line);
  if (!t) return NULL;
  nlist l;
  nl_init(&l);
  nl_push(P, &l, a);
  while (is_op(P, ",") && !P->err) {
    P->i++;
    if (CUR(P)->kind == T_NEWLINE || is_op(P, "=")) break;
    ndp__knode *b = expr(P);
    if (!b) break;
    nl_push(P, &l, b);
  }
  t->list = nl_done(P, &l, &t->n);
  return P->err ? NULL : height(P, t);
}

static ndp__knode **suite(parser *P, int *n);

static int end_simple(parser *P) {
  if (is_op(P, ";")) {
    P->i++;
    return 0;
  }
  if (CUR(P)->kind == T_NEWLINE) {
    P->i++;
    return 0;
  }
  char d[48];
  describe(CUR(P), d, sizeof d);
  return fail(P, NDP_ESYNTAX, CUR(P)->line, "invalid syntax at %s", d);
}

static const struct {
  const char *tok;
  int op;
} augops[] = {{"+=", O_ADD}, {"-=", O_SUB}, {"*=", O_MUL}, {"/=", O_DIV},
              {"//=", O_FLOORDIV}, {"%=", O_MOD}, {"**=", O_POW}, {"&=", O_BAND},
              {"|=", O_BOR}, {"^=", O_BXOR}, {"<<=", -1}, {">>=", -1}, {"@=", -1},
              {NULL, 0}};

static ndp__knode *simple_stmt(parser *P) {
  ktok *t = CUR(P);
  int line = t->line;
  ndp__knode *n = NULL;
  if (is_kw(P, "pass")) {
    P->i++;
    n = node(P, S_PASS, line);
  } else if (is_kw(P, "break")) {
    P->i++;
    n = node(P, S_BREAK, line);
  } else if (is_kw(P, "continue")) {
    P->i++;
    n = node(P, S_CONTINUE, line);
  } else if (is_kw(P, "return")) {
    P->i++;
    n = node(P, S_RETURN, line);
    if (n && CUR(P)->kind != T_NEWLINE && !is_op(P, ";")) n->a = exprlist(P);
  } else if (is_kw(P, "import") || is_kw(P, "from")) {
    return unsupported(P, "import is");
  } else if (is_kw(P, "global") || is_kw(P, "nonlocal")) {
    return unsupported(P, is_kw(P, "global") ? "global is" : "nonlocal is");
  } else if (is_kw(P, "del")) {
    return unsupported(P, "del is");
  } else if (is_kw(P, "assert")) {
    return unsupported(P, "assert is");
  } else if (is_kw(P, "raise")) {
    return unsupported(P, "raise is");
  } else if (is_kw(P, "yield")) {
    return unsupported(P, "yield is");
  } else {
    ndp__knode *a = exprlist(P);
    if (!a) return NULL;
    for (int k = 0; augops[k].tok; k++) {
      if (is_op(P, augops[k].tok)) {
        if (augops[k].op < 0) return unsupported(P, "this augmented assignment is");
        P->i++;
        n = node(P, S_AUG, line);
        if (!n) return NULL;
        n->op = augops[k].op;
        n->a = a;
        n->b = exprlist(P);
        if (!n->b) return NULL;
        goto done;
      }
    }
    if (is_op(P, ":")) return unsupported(P, "annotated assignments are");
    if (is_op(P, "=")) {
      n = node(P, S_ASSIGN, line);
      if (!n) return NULL;
      nlist l;
      nl_init(&l);
      nl_push(P, &l, a);
      ndp__knode *v = NULL;
      while (is_op(P, "=") && !P->err) {
        P->i++;
        v = exprlist(P);
        if (!v) break;
        if (is_op(P, "=")) nl_push(P, &l, v);
      }
      n->list = nl_done(P, &l, &n->n);
      n->b = v;
      if (!v) return NULL;
    } else {
      n = node(P, S_EXPR, line);
      if (n) n->a = a;
    }
  }
done:
  if (!n || P->err) return NULL;
  if (end_simple(P)) return NULL;
  return n;
}

static ndp__knode *stmt(parser *P);

static ndp__knode *if_stmt(parser *P) {
  int line = CUR(P)->line;
  P->i++; /* if / elif */
  ndp__knode *n = node(P, S_IF, line);
  if (!n) return NULL;
  n->a = expr(P);
  if (!n->a || expect_op(P, ":")) return NULL;
  n->list = suite(P, &n->n);
  if (P->err) return NULL;
  if (is_kw(P, "elif")) {
    if (enter(P)) return NULL;
    ndp__knode *e = if_stmt(P);
    P->depth--;
    if (!e) return NULL;
    n->list2 = ndp__karena_alloc(P->ar, sizeof *n->list2);
    if (!n->list2) return NULL;
    n->list2[0] = e;
    n->n2 = 1;
  } else if (is_kw(P, "else")) {
    P->i++;
    if (expect_op(P, ":")) return NULL;
    n->list2 = suite(P, &n->n2);
  }
  return P->err ? NULL : n;
}

static ndp__knode *loop_stmt(parser *P) {
  int line = CUR(P)->line, isfor = is_kw(P, "for");
  P->i++;
  ndp__knode *n = node(P, isfor ? S_FOR : S_WHILE, line);
  if (!n) return NULL;
  if (isfor) {
    ktok *t = CUR(P);
    if (t->kind != T_NAME || is_keyword(t)) {
      fail(P, NDP_ESYNTAX, t->line, "a for loop's target must be one name");
      return NULL;
    }
    n->a = node(P, N_NAME, t->line);
    if (!n->a) return NULL;
    n->a->name = intern(P, t);
    P->i++;
    if (is_op(P, ",")) return unsupported(P, "tuple targets in for loops are");
    if (!is_kw(P, "in")) {
      fail(P, NDP_ESYNTAX, CUR(P)->line, "expected 'in' in a for loop");
      return NULL;
    }
    P->i++;
    n->b = exprlist(P);
    if (!n->b) return NULL;
  } else {
    n->a = expr(P);
    if (!n->a) return NULL;
  }
  if (expect_op(P, ":")) return NULL;
  n->list = suite(P, &n->n);
  if (P->err) return NULL;
  if (is_kw(P, "else")) return unsupported(P, "else clauses on loops are");
  return n;
}

static ndp__knode *stmt(parser *P) {
  if (enter(P)) return NULL;
  ndp__knode *n;
  if (is_kw(P, "if")) n = if_stmt(P);
  else if (is_kw(P, "while") || is_kw(P, "for")) n = loop_stmt(P);
  else if (is_kw(P, "def") || is_op(P, "@")) n = unsupported(P, "nested functions are");
  else if (is_kw(P, "class")) n = unsupported(P, "class is");
  else if (is_kw(P, "try")) n = unsupported(P, "try is");
  else if (is_kw(P, "with")) n = unsupported(P, "with is");
  else if (is_kw(P, "async")) n = unsupported(P, "async is");
  else if (is_kw(P, "match") && P->L.t[P->i + 1].kind == T_NAME) n = unsupported(P, "match is");
  else if (is_kw(P, "elif") || is_kw(P, "else")) {
    fail(P, NDP_ESYNTAX, CUR(P)->line, "'%s' without a matching 'if'",
         is_kw(P, "elif") ? "elif" : "else");
    n = NULL;
  } else if (CUR(P)->kind == T_INDENT) {
    fail(P, NDP_ESYNTAX, CUR(P)->line, "unexpected indent");
    n = NULL;
  } else n = simple_stmt(P);
  P->depth--;
  return n;
}

static ndp__knode **suite(parser *P, int *n) {
  nlist l;
  nl_init(&l);
  *n = 0;
  if (CUR(P)->kind != T_NEWLINE) { /* if x: stmt; stmt */
    while (!P->err) {
      ndp__knode *s = simple_stmt(P);
      if (!s) break;
      nl_push(P, &l, s);
      if (P->L.t[P->i - 1].kind == T_NEWLINE) break;
      if (CUR(P)->kind == T_NEWLINE) {
        P->i++;
        break;
      }
    }
    return nl_done(P, &l, n);
  }
  P->i++;
  if (CUR(P)->kind != T_INDENT) {
    fail(P, NDP_ESYNTAX, CUR(P)->line, "expected an indented block");
    return NULL;
  }
  P->i++;
  while (!P->err && CUR(P)->kind != T_DEDENT && CUR(P)->kind != T_EOF) {
    ndp__knode *s = stmt(P);
    if (!s) break;
    nl_push(P, &l, s);
  }
  if (!P->err && CUR(P)->kind == T_DEDENT) P->i++;
  return nl_done(P, &l, n);
}

/* def NAME ( params ) [-> expr] : suite */
static ndp__knode *funcdef(parser *P) {
  int line = CUR(P)->line;
  P->i++;
  ktok *t = CUR(P);
  if (t->kind != T_NAME || is_keyword(t)) {
    fail(P, NDP_ESYNTAX, t->line, "expected a function name after 'def'");
    return NULL;
  }
  ndp__knode *f = node(P, S_DEF, line);
  if (!f) return NULL;
  f->name = intern(P, t);
  P->i++;
  if (expect_op(P, "(")) return NULL;
  nlist l;
  nl_init(&l);
  while (!P->err && !is_op(P, ")")) {
    ktok *p = CUR(P);
    if (is_op(P, "*") || is_op(P, "**") || is_op(P, "/")) {
      nl_done(P, &l, &l.n);
      return unsupported(P, "*args, **kwargs and '/' are");
    }
    if (p->kind != T_NAME || is_keyword(p)) {
      fail(P, NDP_ESYNTAX, p->line, "expected a parameter name");
      break;
    }
    ndp__knode *pn = node(P, N_NAME, p->line);
    if (!pn) break;
    pn->name = intern(P, p);
    P->i++;
    if (is_op(P, ":")) { /* annotation: parsed and ignored */
      P->i++;
      if (!expr(P)) break;
    }
    if (is_op(P, "=")) {
      nl_done(P, &l, &l.n);
      return unsupported(P, "default parameter values are");
    }
    nl_push(P, &l, pn);
    if (!is_op(P, ",")) break;
    P->i++;
  }
  f->list2 = nl_done(P, &l, &f->n2);
  if (expect_op(P, ")")) return NULL;
  if (is_op(P, "->")) {
    P->i++;
    if (!expr(P)) return NULL;
  }
  if (expect_op(P, ":")) return NULL;
  f->list = suite(P, &f->n);
  if (P->err) return NULL;
  for (int i = 0; i < f->n2; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(f->list2[i]->name, f->list2[j]->name) == 0) {
        fail(P, NDP_ESYNTAX, f->list2[i]->line, "duplicate parameter '%s'", f->list2[i]->name);
        return NULL;
      }
  return f;
}

/* Skips tokens to the end of the logical line (and its block, if any). */
static void skip_line(parser *P) {
  while (CUR(P)->kind != T_NEWLINE && CUR(P)->kind != T_EOF) P->i++;
  if (CUR(P)->kind == T_NEWLINE) P->i++;
  if (CUR(P)->kind == T_INDENT) {
    int d = 0;
    do {
      if (CUR(P)->kind == T_INDENT) d++;
      if (CUR(P)->kind == T_DEDENT) d--;
      P->i++;
    } while (d > 0 && CUR(P)->kind != T_EOF);
  }
}

int ndp__kparse(ndp__karena *ar, const char *src, const char *func, int first_line,
                ndp__knode **fn, ndp__knode ***mod, int *nmod, ndp_status *st) {
  parser P;
  memset(&P, 0, sizeof P);
  P.ar = ar;
  P.st = st;
  P.L.src = src;
  P.L.first_line = first_line > 0 ? first_line : 1;
  P.L.st = st;
  *fn = NULL;
  if (mod) *mod = NULL;
  if (nmod) *nmod = 0;
  if (strlen(src) > NDP__KMAXSRC) {
    return ndp__kfail(st, NDP_ESYNTAX, P.L.first_line, "kernel text too long");
  }
  int rc = lex(&P.L);
  if (rc) {
    ndp__free(P.L.t);
    return rc;
  }
  nlist consts;
  nl_init(&consts);
  ndp__knode *found = NULL;
  while (!P.err && CUR(&P)->kind != T_EOF) {
    ktok *t = CUR(&P);
    if (t->kind == T_NEWLINE) {
      P.i++;
    } else if (is_op(&P, "@")) {
      skip_line(&P);
    } else if (is_kw(&P, "import") || is_kw(&P, "from")) {
      skip_line(&P);
    } else if (is_kw(&P, "def")) {
      ktok *nm = &P.L.t[P.i + 1];
      int want = !found && (!func || (nm->kind == T_NAME && tok_is(nm, func) &&
                                      strlen(func) == (size_t)nm->len));
      if (want) {
        found = funcdef(&P);
        if (!found) break;
      } else {
        skip_line(&P);
      }
    } else if (t->kind == T_NAME && P.L.t[P.i + 1].kind == T_OP &&
               tok_is(&P.L.t[P.i + 1], "=")) {
      ndp__knode *s = simple_stmt(&P);
      if (!s) break;
      nl_push(&P, &consts, s);
    } else if (t->kind == T_INDENT) {
      fail(&P, NDP_ESYNTAX, t->line, "unexpected indent");
    } else {
      skip_line(&P); /* other module-level code is not the kernel's business */
    }
  }
  int nm = 0;
  ndp__knode **ml = nl_done(&P, &consts, &nm);
  int line = P.L.nt ? P.L.t[P.L.nt - 1].line : P.L.first_line;
  ndp__free(P.L.t);
  if (P.err) return P.err;
  if (!found) {
    if (func)
      return ndp__kfail(st, NDP_ENAME, line, "no function named '%s' in the kernel text", func);
    return ndp__kfail(st, NDP_ESYNTAX, line, "no function definition ('def') in the kernel text");
  }
  *fn = found;
  if (mod) *mod = ml;
  if (nmod) *nmod = nm;
  return 0;
}
