// The .mig language: one generic syntax, schema-driven meaning.
//
// The grammar knows blocks, attributes and values, nothing more: which
// attributes a block takes, and what a name means, is decided by the
// compiler against schemas written in the stdlib. Keywords are contextual,
// so `step`, `from`, `window` ... are plain identifiers here; only `true`
// and `false` are reserved.
//
// Newlines end attributes, so they are tokens. Inside `()` and `[]` the
// parser rules allow them freely.
grammar Mig;

// ---------------------------------------------------------------- parser

// Items are separated by newlines; an item may also end at the `}` that
// closes its block, so `secret pw { from env("X") }` is one line. The item
// loop is written out in `file` and in `block` (not shared through a
// nullable rule) so that a stray token inside a block is reported and
// skipped there, and parsing goes on in the same block.
file
    : NL* (item (NL+ item)*)? NL* EOF
    ;

item
    : block
    | attribute
    ;

// KEYWORD [NAME] [KIND] {            plan, source old_db postgres, phase ...
// KEYWORD NAME(PARAM: TYPE, ...) {   action headers
block
    : keyword=ident labels+=ident* params=arguments? LBRACE NL* (item (NL+ item)*)? NL* RBRACE
    ;

// NAME VALUE...  [= DEFAULT]
// Covers plain attributes (`retain 72h`, `allow "10.0.0.0/8" "office"`),
// kind fields (`port int = 5432`), the step shorthand
// (`step inventory = postgres.inventory(db: old_db)`), `import` and
// `module` lines.
attribute
    : name=ident values+=value* (ASSIGN assigned=value)?
    ;

// A union of kinds (`postgres|redis`) is only meaningful as a type; the
// compiler says so elsewhere.
value
    : alternatives+=primary (PIPE alternatives+=primary)*
    ;

primary
    : STRING                                          # stringValue
    | TRIPLE_STRING                                   # tripleStringValue
    | INT                                             # intValue
    | UNIT_NUMBER                                     # unitValue
    | (TRUE | FALSE)                                  # boolValue
    | LBRACKET NL* (value (NL* COMMA NL* value)* (NL* COMMA)?)? NL* RBRACKET  # listValue
    | path arguments                                  # callValue
    | path                                            # referenceValue
    ;

arguments
    : LPAREN NL* (argument (NL* COMMA NL* argument)* (NL* COMMA)?)? NL* RPAREN
    ;

// `from: old_db` in a call; `every: duration = 5s` in an action header.
argument
    : (name=ident COLON NL*)? value (ASSIGN defaultValue=value)?
    ;

path
    : ident (DOT ident)*
    ;

ident
    : IDENT
    ;

// ---------------------------------------------------------------- lexer

TRUE  : 'true' ;
FALSE : 'false' ;

IDENT : [A-Za-z_] [A-Za-z0-9_]* ;

// A number with a unit is one token: 90s 1h30m 512MB 2.5GB. Which units
// exist is the compiler's business (an unknown one is an invalid-value).
UNIT_NUMBER : DIGITS ('.' DIGITS)? [A-Za-z]+ (DIGITS [A-Za-z]+)* ;
INT         : DIGITS ;

TRIPLE_STRING : '"""' .*? '"""' ;
// An opening `"""` never closed: reported by the compiler, with position.
UNTERMINATED_TRIPLE_STRING : '"""' ( ~'"' | '"' ~'"' | '""' ~'"' )* '"'? '"'? EOF ;

// Escapes and `${...}` interpolations are decoded by the compiler, which
// reports bad escapes and unterminated interpolations at their position.
STRING : '"' ( '\\' ~[\r\n] | ~["\\\r\n] )* '"' ;
// A string that reaches the end of its line (or of the file) unclosed.
UNTERMINATED_STRING : '"' ( '\\' ~[\r\n] | ~["\\\r\n] )* '\\'? ;

LBRACE   : '{' ;
RBRACE   : '}' ;
LPAREN   : '(' ;
RPAREN   : ')' ;
LBRACKET : '[' ;
RBRACKET : ']' ;
COMMA    : ',' ;
COLON    : ':' ;
DOT      : '.' ;
ASSIGN   : '=' ;
PIPE     : '|' ;

COMMENT : '#' ~[\r\n]* -> channel(HIDDEN) ;
NL      : '\r'? '\n' ;
SPACE   : [ \t\f]+ -> channel(HIDDEN) ;

// Anything else: one token, so the parser reports it in our own words.
STRAY : . ;

fragment DIGITS : [0-9]+ ;
