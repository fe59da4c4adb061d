/*
 * expr/parse.c - lexer and precedence-climbing parser for ndp_expr.
 *
 * Grammar (Python's, restricted):
 *   program   := sep* stmt (sep+ stmt)* sep*        sep := ';' | newline
 *   stmt      := NAME '=' expr | expr   (all but the last are assignments)
 *   expr      := bitor (CMP bitor)?     CMP := == != < <= > >=
 *   bitor     := bitxor ('|' bitxor)*
 *   bitxor    := bitand ('^' bitand)*
 *   bitand    := arith ('&' arith)*
 *   arith     := term (('+' | '-') term)*
 *   term      := unary (('*' | '/' | '//' | '%') unary)*
 *   unary     := ('-' | '+' | '~') unary | power
 *   power     := atom ('**' unary)?
 *   atom      := INT | FLOAT | NAME | NAME '(' args? ')' | '(' expr ')'
 *   args      := arg (',' arg)* ','?     arg := expr | NAME '=' expr
 *
 * Precedence, loosest first: comparisons, |, ^, &, + -, * / // %, unary
 * - + ~, ** (right-associative; -2**2 == -4, 2**-1 == 0.5). Comparisons do
 * not chain: `a < b < c` is a syntax error (write (a < b) & (b < c)), as
 * Python's chaining would need `and`, which has no array meaning.
 * Newlines inside parentheses are whitespace; '#' starts a comment.
 *
 * Nodes are appended to one array after their children, so a child's
 * index is always smaller than its parent's: later passes walk the array
 * in order without recursion. Left-associative chains are loops; only
 * nesting (parentheses, unary operators, the right side of **) recurses,
 * and it is limited to NDP__EXPR_MAXDEPTH; the node count to
 * NDP__EXPR_MAXNODES. Errors carry the byte offset of the fault.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr_internal.h"

enum { K_EOF, K_INT, K_FLOAT, K_NAME, K_OP, K_LPAR, K_RPAR, K_COMMA, K_ASSIGN, K_SEP };

typedef struct tok {
  int kind, op, pos, len;
  int64_t ival;
  double fval;
} tok;

typedef struct parser {
  ndp__ast *a;
  const char *s;
  int p;      /* read position */
  int paren;  /* open parentheses: newlines are whitespace inside */
  int depth;
  tok t;      /* current token */
  ndp_status *st;
} parser;

int ndp__fail_at(ndp_status *st, int code, long pos, const char *fmt, ...) {
  if (st) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->msg, sizeof st->msg, fmt, ap);
    va_end(ap);
    st->code = code;
    st->pos = pos;
  }
  return code;
}

/* ---- lexer --------------------------------------------------------------- */

static void skip_space(parser *P) {
  const char *s = P->s;
  for (;;) {
    char c = s[P->p];
    if (c == ' ' || c == '\t' || c == '\r' || (c == '\n' && P->paren > 0)) {
      P->p++;
    } else if (c == '\\' && s[P->p + 1] == '\n') {
      P->p += 2;
    } else if (c == '#') {
      while (s[P->p] && s[P->p] != '\n') P->p++;
    } else {
      return;
    }
  }
}

static int lex_number(parser *P, tok *t) {
  const char *s = P->s;
  int p = P->p, isfloat = 0;
  while (isdigit((unsigned char)s[p])) p++;
  if (s[p] == '.') {
    isfloat = 1;
    p++;
    while (isdigit((unsigned char)s[p])) p++;
  }
  if (s[p] == 'e' || s[p] == 'E') {
    int q = p + 1;
    if (s[q] == '+' || s[q] == '-') q++;
    if (!isdigit((unsigned char)s[q]))
      return ndp__fail_at(P->st, NDP_ESYNTAX, q, "malformed number: missing exponent digits");
    while (isdigit((unsigned char)s[q])) q++;
    p = q;
    isfloat = 1;
  }
  if (isalpha((unsigned char)s[p]) || s[p] == '_')
    return ndp__fail_at(P->st, NDP_ESYNTAX, p, "malformed number");
  t->len = p - P->p;
  if (isfloat) {
    t->kind = K_FLOAT;
    t->fval = strtod(s + P->p, NULL);
  } else {
    uint64_t v = 0;
    for (int i = P->p; i < p; i++) {
      if (v > (UINT64_C(9223372036854775807) - (uint64_t)(s[i] - '0')) / 10)
        return ndp__fail_at(P->st, NDP_ESYNTAX, P->p, "integer literal too large for int64");
      v = v * 10 + (uint64_t)(s[i] - '0');
    }
    t->kind = K_INT;
    t->ival = (int64_t)v;
  }
  P->p = p;
  return 0;
}

static const struct {
  const char *text;
  int op;
} optab[] = {{"**", T_POW}, {"//", T_FDIV}, {"==", T_EQ}, {"!=", T_NE}, {"<=", T_LE},
             {">=", T_GE},  {"+", T_ADD},   {"-", T_SUB}, {"*", T_MUL},  {"/", T_DIV},
             {"%", T_MOD},  {"<", T_LT},    {">", T_GT},  {"&", T_AND},  {"|", T_OR},
             {"^", T_XOR},  {"~", T_INV}};

static int lex_punct(parser *P, tok *t) {
  const char *s = P->s + P->p;
  for (size_t i = 0; i < sizeof optab / sizeof optab[0]; i++) {
    size_t n = strlen(optab[i].text);
    if (strncmp(s, optab[i].text, n) == 0) {
      t->kind = K_OP;
      t->op = optab[i].op;
      t->len = (int)n;
      P->p += (int)n;
      return 0;
    }
  }
  int kind = *s == '(' ? K_LPAR : *s == ')' ? K_RPAR : *s == ',' ? K_COMMA
           : *s == '=' ? K_ASSIGN : (*s == ';' || *s == '\n') ? K_SEP : -1;
  if (kind < 0) {
    unsigned char c = (unsigned char)*s;
    if (isprint(c))
      return ndp__fail_at(P->st, NDP_ESYNTAX, P->p, "unexpected character '%c'", c);
    return ndp__fail_at(P->st, NDP_ESYNTAX, P->p, "unexpected byte 0x%02x", c);
  }
  t->kind = kind;
  t->len = 1;
  P->p++;
  return 0;
}

/* Reads the next token into P->t. */
static int next(parser *P) {
  skip_space(P);
  tok *t = &P->t;
  memset(t, 0, sizeof *t);
  t->pos = P->p;
  char c = P->s[P->p];
  if (c == '\0') {
    t->kind = K_EOF;
    return 0;
  }
  if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)P->s[P->p + 1])))
    return lex_number(P, t);
  if (isalpha((unsigned char)c) || c == '_') {
    while (isalnum((unsigned char)P->s[P->p]) || P->s[P->p] == '_') P->p++;
    t->kind = K_NAME;
    t->len = P->p - t->pos;
    return 0;
  }
  return lex_punct(P, t);
}

/* ---- node arena ---------------------------------------------------------- */

static int new_node(parser *P, int kind, int op, int pos, int len) {
  ndp__ast *a = P->a;
  if (a->nn >= NDP__EXPR_MAXNODES)
    return ndp__fail_at(P->st, NDP_EINVAL, pos,
                        "expression too large (more than %d nodes)", NDP__EXPR_MAXNODES);
  if (a->nn == a->ncap) {
    int cap = a->ncap ? a->ncap * 2 : 64;
    ndp__anode *n = ndp__malloc(sizeof *n * (size_t)cap);
    if (!n) return ndp__fail_at(P->st, NDP_ENOMEM, pos, "out of memory parsing the expression");
    if (a->nn) memcpy(n, a->n, sizeof *n * (size_t)a->nn);
    ndp__free(a->n);
    a->n = n;
    a->ncap = cap;
  }
  ndp__anode *x = &a->n[a->nn];
  memset(x, 0, sizeof *x);
  x->kind = kind;
  x->op = op;
  x->pos = pos;
  x->len = len;
  x->arg[0] = x->arg[1] = x->arg[2] = -1;
  return a->nn++;
}

static int add_stmt(parser *P, int name_pos, int name_len, int first, int root) {
  ndp__ast *a = P->a;
  if (a->ns == a->scap) {
    int cap = a->scap ? a->scap * 2 : 8;
    ndp__astmt *s = ndp__malloc(sizeof *s * (size_t)cap);
    if (!s) return ndp__fail_at(P->st, NDP_ENOMEM, name_pos, "out of memory parsing");
    if (a->ns) memcpy(s, a->s, sizeof *s * (size_t)a->ns);
    ndp__free(a->s);
    a->s = s;
    a->scap = cap;
  }
  a->s[a->ns++] = (ndp__astmt){name_pos, name_len, first, root};
  return 0;
}

/* ---- grammar ------------------------------------------------------------- */

static int parse_expr(parser *P, int *out);
static int parse_unary(parser *P, int *out);

static int enter(parser *P) {
  if (++P->depth > NDP__EXPR_MAXDEPTH)
    return ndp__fail_at(P->st, NDP_EINVAL, P->t.pos,
                        "expression nested deeper than %d levels", NDP__EXPR_MAXDEPTH);
  return 0;
}

static int expect(parser *P, int kind, const char *what) {
  if (P->t.kind != kind) {
    if (P->t.kind == K_EOF)
      return ndp__fail_at(P->st, NDP_ESYNTAX, P->t.pos, "unexpected end of input: expected %s", what);
    return ndp__fail_at(P->st, NDP_ESYNTAX, P->t.pos, "expected %s", what);
  }
  return 0;
}

/* One call argument: `expr` or `name = expr`. */
static int parse_arg(parser *P, int *out) {
  int rc;
  if (P->t.kind == K_NAME) {
    int save_p = P->p;
    tok name = P->t;
    if ((rc = next(P))) return rc;
    if (P->t.kind == K_ASSIGN) {
      int e;
      if ((rc = next(P)) || (rc = parse_expr(P, &e))) return rc;
      int k = new_node(P, A_KWARG, 0, name.pos, name.len);
      if (k < 0) return k;
      P->a->n[k].arg[0] = e;
      P->a->n[k].nargs = 1;
      *out = k;
      return 0;
    }
    P->p = save_p; /* not a keyword: re-read from the name */
    P->t = name;
  }
  return parse_expr(P, out);
}

static int parse_call(parser *P, tok name, int *out) {
  int args[3], nargs = 0, rc;
  P->paren++;
  if ((rc = next(P))) return rc;
  while (P->t.kind != K_RPAR) {
    int x;
    if (nargs == 3)
      return ndp__fail_at(P->st, NDP_ESYNTAX, P->t.pos, "too many arguments (at most 3)");
    if ((rc = parse_arg(P, &x))) return rc;
    args[nargs++] = x;
    if (P->t.kind == K_COMMA) {
      if ((rc = next(P))) return rc;
    } else if ((rc = expect(P, K_RPAR, "',' or ')' in the argument list"))) {
      return rc;
    }
  }
  P->paren--;
  int k = new_node(P, A_CALL, 0, name.pos, name.len);
  if (k < 0) return k;
  for (int i = 0; i < nargs; i++) P->a->n[k].arg[i] = args[i];
  P->a->n[k].nargs = nargs;
  *out = k;
  return next(P);
}

static int parse_atom(parser *P, int *out) {
  tok t = P->t;
  int rc, k;
  switch (t.kind) {
  case K_INT:
  case K_FLOAT:
    k = new_node(P, t.kind == K_INT ? A_INT : A_FLOAT, 0, t.pos, t.len);
    if (k < 0) return k;
    P->a->n[k].ival = t.ival;
    P->a->n[k].fval = t.fval;
    *out = k;
    return next(P);
  case K_NAME:
    if ((rc = next(P))) return rc;
    if (P->t.kind == K_LPAR) {
      if ((rc = enter(P)) || (rc = parse_call(P, t, out))) return rc;
      P->depth--;
      return 0;
    }
    k = new_node(P, A_NAME, 0, t.pos, t.len);
    if (k < 0) return k;
    *out = k;
    return 0;
  case K_LPAR:
    if ((rc = enter(P))) return rc;
    P->paren++;
    if ((rc = next(P)) || (rc = parse_expr(P, out))) return rc;
    if ((rc = expect(P, K_RPAR, "')'"))) return rc;
    P->paren--;
    P->depth--;
    return next(P);
  case K_EOF:
    return ndp__fail_at(P->st, NDP_ESYNTAX, t.pos, "unexpected end of input");
  default:
    return ndp__fail_at(P->st, NDP_ESYNTAX, t.pos, "expected a value");
  }
}

static int binary(parser *P, int op, tok at, int l, int r, int *out) {
  int k = new_node(P, A_BINARY, op, at.pos, at.len);
  if (k < 0) return k;
  P->a->n[k].arg[0] = l;
  P->a->n[k].arg[1] = r;
  P->a->n[k].nargs = 2;
  *out = k;
  return 0;
}

static int parse_power(parser *P, int *out) {
  int rc, l, r;
  if ((rc = parse_atom(P, &l))) return rc;
  if (!(P->t.kind == K_OP && P->t.op == T_POW)) {
    *out = l;
    return 0;
  }
  tok at = P->t;
  if ((rc = enter(P)) || (rc = next(P)) || (rc = parse_unary(P, &r))) return rc;
  P->depth--;
  return binary(P, T_POW, at, l, r, out);
}

static int parse_unary(parser *P, int *out) {
  if (!(P->t.kind == K_OP && (P->t.op == T_SUB || P->t.op == T_ADD || P->t.op == T_INV)))
    return parse_power(P, out);
  tok at = P->t;
  int rc, x;
  if ((rc = enter(P)) || (rc = next(P)) || (rc = parse_unary(P, &x))) return rc;
  P->depth--;
  int op = at.op == T_SUB ? T_NEG : at.op == T_ADD ? T_POS : T_INV;
  int k = new_node(P, A_UNARY, op, at.pos, at.len);
  if (k < 0) return k;
  P->a->n[k].arg[0] = x;
  P->a->n[k].nargs = 1;
  *out = k;
  return 0;
}

/* Binary levels, loosest first: | ^ & (+ -) (* / // %). */
static int level_of(int op) {
  switch (op) {
  case T_OR: return 0;
  case T_XOR: return 1;
  case T_AND: return 2;
  case T_ADD: case T_SUB: return 3;
  case T_MUL: case T_DIV: case T_FDIV: case T_MOD: return 4;
  default: return -1;
  }
}

/* Precedence climbing: parses operators of level >= minlev. The right
 * operand recurses one level up, so a chain is a loop and nesting adds at
 * most five frames per level. */
static int parse_binary(parser *P, int minlev, int *out) {
  int rc, l, r;
  if ((rc = parse_unary(P, &l))) return rc;
  while (P->t.kind == K_OP && level_of(P->t.op) >= minlev) {
    tok at = P->t;
    int lev = level_of(at.op);
    if ((rc = next(P)) || (rc = parse_binary(P, lev + 1, &r))) return rc;
    if ((rc = binary(P, at.op, at, l, r, &l))) return rc;
  }
  *out = l;
  return 0;
}

static int is_cmp(const tok *t) { return t->kind == K_OP && t->op >= T_EQ && t->op <= T_GE; }

static int parse_expr(parser *P, int *out) {
  int rc, l, r;
  if ((rc = parse_binary(P, 0, &l))) return rc;
  if (!is_cmp(&P->t)) {
    *out = l;
    return 0;
  }
  tok at = P->t;
  if ((rc = next(P)) || (rc = parse_binary(P, 0, &r))) return rc;
  if (is_cmp(&P->t))
    return ndp__fail_at(P->st, NDP_ESYNTAX, P->t.pos,
                        "chained comparisons are not supported; use (a < b) & (b < c)");
  return binary(P, at.op, at, l, r, out);
}

/* stmt := NAME '=' expr | expr */
static int parse_stmt(parser *P) {
  int rc, root, first = P->a->nn, name_pos = 0, name_len = 0;
  if (P->t.kind == K_NAME) {
    int save_p = P->p;
    tok name = P->t;
    if ((rc = next(P))) return rc;
    if (P->t.kind == K_ASSIGN) {
      name_pos = name.pos;
      name_len = name.len;
      if ((rc = next(P))) return rc;
    } else {
      P->p = save_p;
      P->t = name;
    }
  }
  if ((rc = parse_expr(P, &root))) return rc;
  if (P->t.kind != K_SEP && P->t.kind != K_EOF) {
    if (P->t.kind == K_ASSIGN)
      return ndp__fail_at(P->st, NDP_ESYNTAX, P->t.pos, "can only assign to a name");
    if (P->t.kind == K_RPAR)
      return ndp__fail_at(P->st, NDP_ESYNTAX, P->t.pos, "unmatched ')'");
    return ndp__fail_at(P->st, NDP_ESYNTAX, P->t.pos, "unexpected token after expression");
  }
  return add_stmt(P, name_pos, name_len, first, root);
}

int ndp__parse(const char *src, ndp__ast *a, ndp_status *st) {
  memset(a, 0, sizeof *a);
  a->src = src;
  parser P = {.a = a, .s = src, .st = st};
  int rc = next(&P);
  while (!rc) {
    while (!rc && P.t.kind == K_SEP) rc = next(&P);
    if (rc || P.t.kind == K_EOF) break;
    rc = parse_stmt(&P);
  }
  if (rc) return rc;
  if (a->ns == 0) return ndp__fail_at(st, NDP_ESYNTAX, 0, "empty expression");
  for (int i = 0; i < a->ns; i++) {
    int last = i == a->ns - 1;
    if (!last && a->s[i].name_len == 0)
      return ndp__fail_at(st, NDP_ESYNTAX, a->n[a->s[i].first].pos,
                          "only the last statement may be an expression; assign this "
                          "one to a name");
    if (last && a->s[i].name_len != 0)
      return ndp__fail_at(st, NDP_ESYNTAX, a->s[i].name_pos,
                          "the last statement must be an expression (the result), not an "
                          "assignment");
  }
  return 0;
}

void ndp__ast_free(ndp__ast *a) {
  if (!a) return;
  ndp__free(a->n);
  ndp__free(a->s);
  a->n = NULL;
  a->s = NULL;
  a->nn = a->ns = a->ncap = a->scap = 0;
}
