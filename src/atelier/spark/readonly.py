"""`atelier sql` is read-only: a statement runs only if what Spark parsed from it is a query.

The check reads Spark's own parse tree (the unresolved logical plan `spark.sql` would run), not
the text: every node must be a query operator from an allow-list, so a statement form this list
does not know is refused, never run. At the top, the catalog reads SHOW ..., DESCRIBE ... (with
Delta's DESCRIBE HISTORY/DETAIL) and EXPLAIN of an allowed statement are accepted too. Spark
parses one statement: `SELECT 1; DROP TABLE t` does not parse and is refused. The functions that
call arbitrary Java methods (`reflect`, `java_method`) and `SELECT TRANSFORM ... USING 'cmd'`
(a shell command) are refused. Writes belong to the jobs; administration to `atelier spark-sql`.
"""

from __future__ import annotations

import logging

from pyspark.errors import ParseException
from pyspark.sql import SparkSession

from atelier.errors import InputRefused

log = logging.getLogger(__name__)

QUERY_NODES = frozenset(
    {
        "Project",
        "Filter",
        "Aggregate",
        "UnresolvedHaving",
        "Sort",
        "GlobalLimit",
        "LocalLimit",
        "Offset",
        "Distinct",
        "Union",
        "Intersect",
        "Except",
        "Join",
        "LateralJoin",
        "SubqueryAlias",
        "UnresolvedSubqueryColumnAliases",
        "UnresolvedWith",
        "WithWindowDefinition",
        "Generate",
        "Sample",
        "Pivot",
        "Unpivot",
        "UnresolvedHint",
        "RepartitionByExpression",
        "OneRowRelation",
        "UnresolvedRelation",
        "RelationTimeTravel",
        "UnresolvedInlineTable",
        "UnresolvedTableValuedFunction",
        "UnresolvedTVFAliases",
    }
)
CATALOG_READS = frozenset(
    {
        "ShowTables",
        "ShowTableExtended",
        "ShowNamespaces",
        "ShowColumns",
        "ShowPartitions",
        "ShowCreateTable",
        "ShowTableProperties",
        "ShowViews",
        "ShowFunctions",
        "DescribeRelation",
        "DescribeColumn",
        "DescribeNamespace",
        "DescribeFunction",
        "DescribeDeltaHistory",
        "DescribeDeltaDetailCommand",
    }
)
CATALOG_READ_TARGETS = frozenset(
    {
        "UnresolvedNamespace",
        "UnresolvedTable",
        "UnresolvedTableOrView",
        "UnresolvedFunctionName",
        "UnresolvedPathBasedDeltaTable",
    }
)
EXPLAIN = "ExplainCommand"
JVM_CALLS = frozenset({"reflect", "java_method"})
ADVICE = (
    "give a query (SELECT, WITH, VALUES, TABLE) or SHOW/DESCRIBE/EXPLAIN; tables change through the jobs, "
    "and administration goes through `atelier spark-sql`"
)


def check_query(spark: SparkSession, text: str) -> None:
    """Return if `text` is one read-only statement; raise InputRefused naming what it would do otherwise."""
    try:
        plan = spark._jsparkSession.sessionState().sqlParser().parsePlan(text)  # noqa: SLF001 - no public parser API
    except ParseException as exc:
        first = next((line for line in str(exc).splitlines() if line.strip()), "")
        raise InputRefused(
            f"atelier sql takes one query, and this does not parse as one statement "
            f"(several statements separated by ';' are refused): {first}"
        ) from None
    _check_statement(spark, plan)
    log.debug("read-only statement accepted: %s", plan.nodeName())


def _check_statement(spark: SparkSession, plan) -> None:
    """The top of a statement: a query, a catalog read, or EXPLAIN of an allowed statement."""
    name = plan.getClass().getSimpleName()
    if name == EXPLAIN:
        _check_statement(spark, plan.logicalPlan())
    elif name in CATALOG_READS:
        for child in _seq(plan.children()):
            _check_plan(spark, child, QUERY_NODES | CATALOG_READ_TARGETS)
    else:
        _check_plan(spark, plan, QUERY_NODES)


def _check_plan(spark: SparkSession, plan, allowed: frozenset[str]) -> None:
    """Every node under `plan`, and every subquery in its expressions, is an allowed node."""
    name = plan.getClass().getSimpleName()
    if name not in allowed:
        raise InputRefused(f"atelier sql is read-only: {name.removesuffix('$')} statements are refused; {ADVICE}")
    expressions = _seq(plan.expressions())
    if name == "WithWindowDefinition":  # its WINDOW clauses are a map, which `expressions` leaves out
        expressions += _seq(plan.windowDefinitions().values().toSeq())
    for expression in expressions:
        _check_expression(spark, expression)
    for child in _seq(plan.innerChildren()):  # the bodies of WITH's common table expressions
        _check_plan(spark, child, QUERY_NODES)
    for child in _seq(plan.children()):
        _check_plan(spark, child, allowed)


def _check_expression(spark: SparkSession, expression) -> None:
    """No Java reflection; the plans of subquery expressions are queries."""
    name = expression.getClass().getSimpleName()
    if name == "UnresolvedFunction":
        function = _seq(expression.nameParts())[-1]
        if function.lower() in JVM_CALLS:
            raise InputRefused(f"atelier sql is read-only: {function}() calls Java methods and is refused; {ADVICE}")
    if _is_instance(spark, expression, "org.apache.spark.sql.catalyst.expressions.PlanExpression"):
        _check_plan(spark, expression.plan(), QUERY_NODES)
    for child in _seq(expression.children()):
        _check_expression(spark, child)


def _is_instance(spark: SparkSession, obj, class_name: str) -> bool:
    assert spark._jvm is not None  # noqa: SLF001 - a running session's JVM view (None only before it starts)
    return spark._jvm.java.lang.Class.forName(class_name).isInstance(obj)  # noqa: SLF001


def _seq(scala_seq) -> list:
    """A Scala Seq from the JVM as a Python list."""
    return [scala_seq.apply(i) for i in range(scala_seq.length())]
