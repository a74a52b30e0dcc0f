package sql

// expr is a node of a parsed expression.
type expr interface{ position() Pos }

type (
	// literal is a constant: Int, Decimal, String, Boolean or Null.
	literal struct {
		pos Pos
		v   Value
	}
	// wildcard is * used as a value: the whole payload.
	wildcard struct{ pos Pos }
	// attr is a bare name: a member of the payload (or of the element in a nested SELECT).
	attr struct {
		pos  Pos
		name string
	}
	// variable is @name of SET.
	variable struct {
		pos  Pos
		name string
	}
	// member is x.name.
	member struct {
		pos  Pos
		x    expr
		name string
	}
	// index is x[i].
	index struct {
		pos Pos
		x   expr
		i   expr
	}
	unary struct {
		pos Pos
		op  string // "NOT", "-"
		x   expr
	}
	binary struct {
		pos  Pos
		op   string // OR AND = <> < <= > >= + - * / %
		l, r expr
	}
	call struct {
		pos  Pos
		name string // lower case
		args []expr
		fn   *function
	}
	castExpr struct {
		pos Pos
		x   expr
		typ string // lower case
	}
	caseExpr struct {
		pos   Pos
		x     expr // nil for the searched form CASE WHEN cond THEN ...
		whens []when
		els   expr
	}
	objectLit struct {
		pos  Pos
		keys []string
		vals []expr
	}
	arrayLit struct {
		pos   Pos
		items []expr
	}
	// subquery is a nested (SELECT ... FROM attribute [WHERE ...]).
	subquery struct {
		pos Pos
		q   *query
	}
)

type when struct{ match, result expr }

func (e *literal) position() Pos   { return e.pos }
func (e *wildcard) position() Pos  { return e.pos }
func (e *attr) position() Pos      { return e.pos }
func (e *variable) position() Pos  { return e.pos }
func (e *member) position() Pos    { return e.pos }
func (e *index) position() Pos     { return e.pos }
func (e *unary) position() Pos     { return e.pos }
func (e *binary) position() Pos    { return e.pos }
func (e *call) position() Pos      { return e.pos }
func (e *castExpr) position() Pos  { return e.pos }
func (e *caseExpr) position() Pos  { return e.pos }
func (e *objectLit) position() Pos { return e.pos }
func (e *arrayLit) position() Pos  { return e.pos }
func (e *subquery) position() Pos  { return e.pos }

// selectItem is one item of a SELECT list.
type selectItem struct {
	star  bool // *
	x     expr
	alias string // as written, or the name AWS would give it
}

// query is one SELECT: the statement's own, or a nested one.
type query struct {
	value bool // SELECT VALUE
	items []selectItem
	from  string // topic filter (statement) — empty when absent
	src   expr   // nested SELECT: the attribute it iterates
	where expr
}

type setVar struct {
	name string
	x    expr
}
