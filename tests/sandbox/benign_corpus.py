"""Functions an LLM really writes for math and table tasks: they must run in the sandbox unchanged.

Each case is a complete function source (the way the optimizer proposes it)
and its keyword arguments. The expected value is what plain CPython returns
for the same source, converted by the sandbox's JSON boundary, so a case
passes when the sandbox changes nothing but the transport.

Run ``python -m tests.sandbox.benign_corpus`` to print the pass rate (the
hardening of issue 11 was measured before and after with it).
"""

from __future__ import annotations

import contextlib
import io
import sys
import textwrap
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CORPUS", "POLICY_MODULES", "Case", "plain_value", "run_corpus"]


@dataclass(frozen=True)
class Case:
    name: str
    code: str
    kwargs: dict[str, Any] = field(default_factory=dict)


def case(name: str, code: str, **kwargs: Any) -> Case:
    return Case(name, textwrap.dedent(code).strip("\n") + "\n", kwargs)


CORPUS: tuple[Case, ...] = (
    # --- sympy: solving, simplifying, calculus ------------------------------------------------------
    case("solve_quadratic", '''
        import sympy as sp

        def solve_quadratic(a, b, c):
            """Roots of a*x**2 + b*x + c."""
            x = sp.symbols('x')
            roots = sp.solve(a * x**2 + b * x + c, x)
            return [str(sp.nsimplify(r)) for r in roots]
        ''', a=1, b=-3, c=2),
    case("solve_system", '''
        from sympy import symbols, Eq, solve, sympify

        def solve_system(equations, variables):
            syms = symbols(variables)
            parsed = []
            for text in equations:
                left, right = text.split('=')
                parsed.append(Eq(sympify(left), sympify(right)))
            return {str(k): str(v) for k, v in solve(parsed, syms, dict=True)[0].items()}
        ''', equations=["2*x + 3*y = 12", "x - y = 1"], variables="x y"),
    case("simplify_expression", '''
        import sympy

        def simplify_expression(expression):
            expr = sympy.sympify(expression)
            return {"simplified": str(sympy.simplify(expr)), "factored": str(sympy.factor(expr)),
                    "expanded": str(sympy.expand(expr))}
        ''', expression="(x**2 - 1)/(x - 1) + (x + 1)**2"),
    case("derivative_and_integral", '''
        import sympy as sp

        def derivative_and_integral(expression, variable="x"):
            x = sp.Symbol(variable)
            f = sp.sympify(expression)
            return {"derivative": str(sp.diff(f, x)), "integral": str(sp.integrate(f, x)),
                    "definite": str(sp.integrate(f, (x, 0, 1)))}
        ''', expression="x**3 + 2*x + sin(x)"),
    case("limit_and_series", '''
        import sympy as sp

        def limit_and_series(n_terms):
            x = sp.symbols('x')
            lim = sp.limit(sp.sin(x) / x, x, 0)
            series = sp.series(sp.exp(x), x, 0, n_terms).removeO()
            return [str(lim), str(series)]
        ''', n_terms=5),
    case("polynomial_roots", '''
        import sympy

        def polynomial_roots(coefficients):
            x = sympy.Symbol('x')
            poly = sympy.Poly(coefficients, x)
            roots = sympy.roots(poly)
            return sorted((str(r), m) for r, m in roots.items())
        ''', coefficients=[1, -6, 11, -6]),
    case("nsolve_root", '''
        import sympy

        def nsolve_root(guess):
            x = sympy.Symbol('x')
            return round(float(sympy.nsolve(sympy.cos(x) - x**3, x, guess)), 8)
        ''', guess=0.5),
    case("vieta_sum", '''
        import sympy as sp

        def vieta_sum(degree):
            x = sp.Symbol('x')
            p = sp.Poly(sum((k + 1) * x**k for k in range(degree + 1)), x)
            coeffs = p.all_coeffs()
            return {"sum_of_roots": str(sp.Rational(-coeffs[1], coeffs[0])),
                    "product_of_roots": str(sp.Rational((-1) ** degree * coeffs[-1], coeffs[0]))}
        ''', degree=4),
    case("solveset_inequality", '''
        import sympy as sp

        def solveset_inequality(bound):
            x = sp.Symbol('x', real=True)
            return str(sp.solveset(x**2 - bound < 0, x, domain=sp.S.Reals))
        ''', bound=9),
    case("matrix_operations", '''
        import sympy as sp

        def matrix_operations(rows):
            m = sp.Matrix(rows)
            return {"det": str(m.det()), "inverse": str(m.inv()), "rank": m.rank(),
                    "eigenvalues": sorted(str(k) for k in m.eigenvals())}
        ''', rows=[[2, 1], [1, 3]]),
    case("linsolve_system", '''
        from sympy import symbols, linsolve, Matrix

        def linsolve_system(a, b):
            xs = symbols(f"x0:{len(a[0])}")
            (solution,) = linsolve((Matrix(a), Matrix(b)), xs)
            return [str(v) for v in solution]
        ''', a=[[1, 1, 1], [0, 2, 5], [2, 5, -1]], b=[6, -4, 27]),
    case("summation_closed_form", '''
        import sympy as sp

        def summation_closed_form(power):
            k, n = sp.symbols('k n', integer=True, positive=True)
            return str(sp.factor(sp.summation(k**power, (k, 1, n))))
        ''', power=3),
    case("rational_arithmetic", '''
        from sympy import Rational, sqrt, nsimplify, simplify

        def rational_arithmetic():
            total = Rational(1, 3) + Rational(2, 7)
            return [str(total), str(simplify(sqrt(8) * sqrt(2))), str(nsimplify(0.125))]
        '''),
    case("trig_identity", '''
        import sympy

        def trig_identity(angle_degrees):
            t = sympy.rad(angle_degrees)
            return [str(sympy.nsimplify(sympy.sin(t))), str(sympy.cos(t)), str(sympy.trigsimp(sympy.sin(t)**2 + sympy.cos(t)**2))]
        ''', angle_degrees=30),
    case("complex_roots_of_unity", '''
        import sympy as sp

        def complex_roots_of_unity(n):
            z = sp.Symbol('z')
            roots = sp.solve(z**n - 1, z)
            return sorted(str(sp.simplify(r)) for r in roots)
        ''', n=4),
    case("custom_sympy_function", '''
        import sympy

        def custom_sympy_function(n):
            class Tri(sympy.Function):
                @classmethod
                def eval(cls, k):
                    if k.is_Integer:
                        return k * (k + 1) / 2
            return [str(Tri(sympy.Integer(i))) for i in range(n)]
        ''', n=5),
    # --- number theory ----------------------------------------------------------------------------
    case("prime_factorization", '''
        import sympy

        def prime_factorization(n):
            """Prime factors of n with multiplicity, and the divisor count."""
            factors = sympy.factorint(n)
            return {"factors": {str(p): e for p, e in factors.items()},
                    "divisors": sympy.divisor_count(n), "is_prime": sympy.isprime(n)}
        ''', n=360),
    case("sieve_primes", '''
        def sieve_primes(limit):
            is_prime = [True] * (limit + 1)
            is_prime[0] = is_prime[1] = False
            for i in range(2, int(limit ** 0.5) + 1):
                if is_prime[i]:
                    for j in range(i * i, limit + 1, i):
                        is_prime[j] = False
            return [i for i, p in enumerate(is_prime) if p]
        ''', limit=100),
    case("modular_inverse_crt", '''
        from functools import reduce

        def modular_inverse_crt(remainders, moduli):
            total = reduce(lambda a, b: a * b, moduli)
            x = 0
            for r, m in zip(remainders, moduli):
                partial = total // m
                x += r * partial * pow(partial, -1, m)
            return x % total
        ''', remainders=[2, 3, 2], moduli=[3, 5, 7]),
    case("euler_totient_sum", '''
        from sympy import totient, primerange, divisors

        def euler_totient_sum(n):
            return {"phi": int(totient(n)), "primes": list(primerange(1, n)),
                    "divisor_sum": sum(divisors(n))}
        ''', n=30),
    case("gcd_lcm_table", '''
        import math

        def gcd_lcm_table(numbers):
            g = numbers[0]
            l = numbers[0]
            for n in numbers[1:]:
                g = math.gcd(g, n)
                l = l * n // math.gcd(l, n)
            return {"gcd": g, "lcm": l, "lcm_builtin": math.lcm(*numbers)}
        ''', numbers=[12, 18, 30]),
    case("digit_sum_and_palindromes", '''
        def digit_sum_and_palindromes(limit):
            count = 0
            best = 0
            for n in range(1, limit):
                s = str(n)
                if s == s[::-1]:
                    count += 1
                    best = max(best, sum(int(d) for d in s))
            return {"palindromes": count, "max_digit_sum": best}
        ''', limit=2000),
    case("pell_equation", '''
        def pell_equation(d):
            x, y = 1, 0
            while True:
                x += 1
                for y in range(1, x):
                    if x * x - d * y * y == 1:
                        return [x, y]
                if x > 1000:
                    return None
        ''', d=7),
    case("continued_fraction", '''
        from fractions import Fraction

        def continued_fraction(numerator, denominator):
            terms = []
            a, b = numerator, denominator
            while b:
                q, r = divmod(a, b)
                terms.append(q)
                a, b = b, r
            value = Fraction(terms[-1])
            for t in reversed(terms[:-1]):
                value = t + 1 / value
            return {"terms": terms, "check": str(value)}
        ''', numerator=415, denominator=93),
    case("base_conversion", '''
        def base_conversion(number, base):
            digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            if number == 0:
                return "0"
            out = []
            n = abs(number)
            while n:
                n, r = divmod(n, base)
                out.append(digits[r])
            return ("-" if number < 0 else "") + "".join(reversed(out))
        ''', number=-255, base=16),
    # --- numpy ------------------------------------------------------------------------------------
    case("numpy_linear_system", '''
        import numpy as np

        def numpy_linear_system(a, b):
            x = np.linalg.solve(np.array(a, dtype=float), np.array(b, dtype=float))
            return [round(v, 6) for v in x.tolist()]
        ''', a=[[3, 1], [1, 2]], b=[9, 8]),
    case("numpy_statistics", '''
        import numpy as np

        def numpy_statistics(values):
            arr = np.asarray(values, dtype=float)
            return {"mean": float(np.mean(arr)), "median": float(np.median(arr)),
                    "std": round(float(np.std(arr, ddof=1)), 6), "argmax": int(np.argmax(arr)),
                    "cumsum": np.cumsum(arr).tolist(), "above": np.where(arr > arr.mean())[0].tolist()}
        ''', values=[4, 8, 15, 16, 23, 42]),
    case("numpy_polyfit", '''
        import numpy as np

        def numpy_polyfit(xs, ys, degree):
            coeffs = np.polyfit(xs, ys, degree)
            return [round(float(c), 6) for c in coeffs]
        ''', xs=[0, 1, 2, 3, 4], ys=[1, 3, 7, 13, 21], degree=2),
    case("numpy_matrix_power", '''
        import numpy as np

        def numpy_matrix_power(n):
            m = np.array([[1, 1], [1, 0]], dtype=np.int64)
            result = np.identity(2, dtype=np.int64)
            for _ in range(n):
                result = result.dot(m)
            return int(result[0, 1])
        ''', n=90),
    case("numpy_eigen", '''
        import numpy as np

        def numpy_eigen(rows):
            values = np.linalg.eigvals(np.array(rows, dtype=float))
            return sorted(round(float(v), 6) for v in values.real)
        ''', rows=[[4, 1], [2, 3]]),
    case("numpy_random_simulation", '''
        import numpy as np

        def numpy_random_simulation(trials, seed):
            rng = np.random.default_rng(seed)
            rolls = rng.integers(1, 7, size=(trials, 2))
            return float(np.mean(rolls.sum(axis=1) == 7))
        ''', trials=1000, seed=7),
    case("numpy_grid_and_masks", '''
        import numpy as np

        def numpy_grid_and_masks(size):
            grid = np.arange(size * size).reshape(size, size)
            grid[grid % 3 == 0] = -1
            diag = np.diag(grid).tolist()
            return {"diag": diag, "neg": int((grid < 0).sum()), "shape": list(grid.shape),
                    "vstack": np.vstack([grid[0], grid[-1]]).tolist()}
        ''', size=4),
    # --- fractions, decimal, statistics, math ----------------------------------------------------
    case("fraction_arithmetic", '''
        from fractions import Fraction

        def fraction_arithmetic(parts):
            total = sum(Fraction(p) for p in parts)
            return {"total": str(total), "float": float(total), "limited": str(total.limit_denominator(10))}
        ''', parts=["1/3", "1/4", "0.2"]),
    case("decimal_money", '''
        from decimal import Decimal, ROUND_HALF_UP, getcontext

        def decimal_money(prices, tax_rate):
            getcontext().prec = 28
            subtotal = sum(Decimal(str(p)) for p in prices)
            tax = (subtotal * Decimal(str(tax_rate))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
            return {"subtotal": str(subtotal), "tax": str(tax), "total": str(subtotal + tax)}
        ''', prices=[19.99, 5.01, 3.5], tax_rate=0.0825),
    case("statistics_summary", '''
        import statistics

        def statistics_summary(values):
            return {"mean": statistics.mean(values), "median": statistics.median(values),
                    "mode": statistics.mode(values), "pstdev": round(statistics.pstdev(values), 6),
                    "quantiles": statistics.quantiles(values, n=4)}
        ''', values=[2, 4, 4, 4, 5, 5, 7, 9]),
    case("combinatorics", '''
        import math
        from itertools import combinations, permutations, product

        def combinatorics(n, k):
            return {"comb": math.comb(n, k), "perm": math.perm(n, k),
                    "pairs_sum_even": sum(1 for a, b in combinations(range(n), 2) if (a + b) % 2 == 0),
                    "perms": len(list(permutations(range(k)))),
                    "dice": sum(1 for roll in product(range(1, 7), repeat=2) if sum(roll) == 8)}
        ''', n=10, k=3),
    case("cmath_quadratic", '''
        import cmath

        def cmath_quadratic(a, b, c):
            d = cmath.sqrt(b * b - 4 * a * c)
            roots = [(-b + d) / (2 * a), (-b - d) / (2 * a)]
            return [[round(r.real, 6), round(r.imag, 6)] for r in roots]
        ''', a=1, b=2, c=5),
    case("geometry_helpers", '''
        import math

        def geometry_helpers(points):
            area = 0.0
            for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1]):
                area += x1 * y2 - x2 * y1
            perimeter = sum(math.dist(p, q) for p, q in zip(points, points[1:] + points[:1]))
            return {"area": abs(area) / 2, "perimeter": round(perimeter, 6)}
        ''', points=[[0, 0], [4, 0], [4, 3]]),
    # --- itertools, collections, functools, heapq, bisect ---------------------------------------
    case("word_frequencies", '''
        import re
        from collections import Counter

        def word_frequencies(text, top):
            words = re.findall(r"[a-z']+", text.lower())
            counts = Counter(words)
            return counts.most_common(top)
        ''', text="The cat and the hat. The end, and the start.", top=3),
    case("group_by_parity", '''
        from collections import defaultdict
        from itertools import groupby, accumulate

        def group_by_parity(values):
            groups = defaultdict(list)
            for v in values:
                groups["even" if v % 2 == 0 else "odd"].append(v)
            runs = [(k, len(list(g))) for k, g in groupby(values, key=lambda v: v % 2)]
            return {"groups": dict(groups), "runs": runs, "prefix": list(accumulate(values))}
        ''', values=[2, 4, 1, 3, 5, 6]),
    case("memoized_fibonacci", '''
        from functools import lru_cache

        def memoized_fibonacci(n):
            @lru_cache(maxsize=None)
            def fib(k):
                return k if k < 2 else fib(k - 1) + fib(k - 2)
            return [fib(i) for i in range(n)]
        ''', n=30),
    case("deep_cached_recursion", '''
        from functools import lru_cache

        def deep_cached_recursion(n):
            @lru_cache(maxsize=None)
            def partitions(k, largest):
                if k == 0:
                    return 1
                if k < 0 or largest == 0:
                    return 0
                return partitions(k - largest, largest) + partitions(k, largest - 1)
            return partitions(n, n)
        ''', n=400),
    case("deep_plain_recursion", '''
        def deep_plain_recursion(n):
            def depth(k):
                return 0 if k == 0 else 1 + depth(k - 1)
            return depth(n)
        ''', n=900),
    case("dict_memo_recursion", '''
        def dict_memo_recursion(n):
            memo = {}
            def ways(k):
                if k <= 1:
                    return 1
                if k not in memo:
                    memo[k] = ways(k - 1) + ways(k - 2) + (ways(k - 3) if k >= 3 else 0)
                return memo[k]
            return ways(n)
        ''', n=40),
    case("dijkstra", '''
        import heapq

        def dijkstra(edges, start):
            graph = {}
            for a, b, w in edges:
                graph.setdefault(a, []).append((b, w))
                graph.setdefault(b, []).append((a, w))
            dist = {start: 0}
            heap = [(0, start)]
            while heap:
                d, node = heapq.heappop(heap)
                if d > dist.get(node, float("inf")):
                    continue
                for nxt, w in graph.get(node, []):
                    nd = d + w
                    if nd < dist.get(nxt, float("inf")):
                        dist[nxt] = nd
                        heapq.heappush(heap, (nd, nxt))
            return dict(sorted(dist.items()))
        ''', edges=[["a", "b", 4], ["a", "c", 1], ["c", "b", 2], ["b", "d", 5]], start="a"),
    case("bisect_grades", '''
        import bisect

        def bisect_grades(scores):
            cutoffs = [60, 70, 80, 90]
            letters = "FDCBA"
            return [letters[bisect.bisect(cutoffs, s)] for s in scores]
        ''', scores=[33, 99, 77, 70, 89, 90, 100]),
    case("sort_with_cmp", '''
        from functools import cmp_to_key

        def sort_with_cmp(numbers):
            def compare(a, b):
                return (a + b > b + a) - (a + b < b + a)
            parts = sorted((str(n) for n in numbers), key=cmp_to_key(compare), reverse=True)
            return "".join(parts)
        ''', numbers=[3, 30, 34, 5, 9]),
    case("deque_sliding_max", '''
        from collections import deque

        def deque_sliding_max(values, width):
            window = deque()
            out = []
            for i, v in enumerate(values):
                while window and values[window[-1]] <= v:
                    window.pop()
                window.append(i)
                if window[0] <= i - width:
                    window.popleft()
                if i >= width - 1:
                    out.append(values[window[0]])
            return out
        ''', values=[1, 3, -1, -3, 5, 3, 6, 7], width=3),
    # --- small classes ----------------------------------------------------------------------------
    case("stack_class", '''
        def stack_class(expression):
            class Stack:
                def __init__(self):
                    self.items = []
                    self.pushes = 0
                def push(self, item):
                    self.items.append(item)
                    self.pushes += 1
                def pop(self):
                    return self.items.pop()
                def empty(self):
                    return not self.items
            s = Stack()
            pairs = {")": "(", "]": "["}
            for ch in expression:
                if ch in "([":
                    s.push(ch)
                elif ch in pairs:
                    if s.empty() or s.pop() != pairs[ch]:
                        return False
            return {"balanced": s.empty(), "pushes": s.pushes}
        ''', expression="([()[]])"),
    case("vector_class", '''
        import math
        from functools import total_ordering

        def vector_class(coords):
            @total_ordering
            class Vector:
                def __init__(self, x, y):
                    self.x = x
                    self.y = y
                def norm(self):
                    return math.hypot(self.x, self.y)
                def __eq__(self, other):
                    return self.norm() == other.norm()
                def __lt__(self, other):
                    return self.norm() < other.norm()
                def plus(self, other):
                    return Vector(self.x + other.x, self.y + other.y)
                @property
                def angle(self):
                    return round(math.degrees(math.atan2(self.y, self.x)), 4)
                @staticmethod
                def zero():
                    return Vector(0, 0)
                @classmethod
                def from_pair(cls, pair):
                    return cls(pair[0], pair[1])
            vectors = [Vector.from_pair(c) for c in coords]
            total = Vector.zero()
            for v in vectors:
                total = total.plus(v)
            longest = max(vectors)
            return {"total": [total.x, total.y], "longest": [longest.x, longest.y], "angle": total.angle,
                    "sorted": [v.norm() for v in sorted(vectors)]}
        ''', coords=[[3, 4], [1, 1], [0, 5]]),
    case("namedtuple_records", '''
        from collections import namedtuple

        def namedtuple_records(rows):
            Item = namedtuple("Item", ["name", "price", "qty"])
            items = [Item(*row) for row in rows]
            best = max(items, key=lambda it: it.price * it.qty)
            return {"best": best.name, "total": sum(it.price * it.qty for it in items),
                    "fields": dict(zip(["name", "price", "qty"], best))}
        ''', rows=[["pen", 1.5, 10], ["book", 12.0, 2], ["bag", 30.0, 1]]),
    case("custom_exception", '''
        def custom_exception(values):
            class InvalidInput(ValueError):
                pass
            def check(v):
                if v < 0:
                    raise InvalidInput(f"negative: {v}")
                return v ** 0.5
            out = []
            for v in values:
                try:
                    out.append(round(check(v), 4))
                except InvalidInput as exc:
                    out.append(str(exc))
            return out
        ''', values=[4, -1, 2]),
    case("dict_subclass_counter", '''
        def dict_subclass_counter(text):
            class Tally(dict):
                def add(self, key):
                    self[key] = self.get(key, 0) + 1
            t = Tally()
            for ch in text:
                if ch.isalpha():
                    t.add(ch)
            return sorted(t.items())
        ''', text="mississippi"),
    case("generator_pipeline", '''
        def generator_pipeline(limit):
            def squares(n):
                for i in range(n):
                    yield i * i
            evens = (s for s in squares(limit) if s % 2 == 0)
            return {"sum": sum(evens), "first": next(iter(squares(limit))), "list": list(squares(5))}
        ''', limit=20),
    # --- tables and word problems (TabMWP, GSM8K) ---------------------------------------------------
    case("table_statistics", r'''
        import re
        import statistics

        def table_statistics(table, column):
            lines = [line.strip() for line in table.strip().splitlines() if line.strip()]
            header = [h.strip() for h in lines[0].strip("|").split("|")]
            index = header.index(column)
            values = []
            for line in lines[2:]:
                cells = [c.strip() for c in line.strip("|").split("|")]
                number = re.sub(r"[^0-9.\-]", "", cells[index])
                values.append(float(number))
            return {"mean": round(statistics.mean(values), 4), "median": statistics.median(values),
                    "range": max(values) - min(values), "count": len(values)}
        ''', table="| item | price |\n|---|---|\n| tea | $2.50 |\n| cake | $4.25 |\n| pie | $3.00 |",
        column="price"),
    case("stem_and_leaf", '''
        def stem_and_leaf(stems):
            values = []
            for stem, leaves in stems.items():
                for leaf in leaves:
                    values.append(int(stem) * 10 + leaf)
            values.sort()
            return {"values": values, "at_least_40": sum(1 for v in values if v >= 40),
                    "max": values[-1]}
        ''', stems={"3": [2, 5], "4": [0, 1, 7], "5": [3]}),
    case("gsm8k_word_problem", '''
        def gsm8k_word_problem(eggs_per_day, eaten, baked, price):
            remaining = eggs_per_day - eaten - baked
            earnings = remaining * price
            print(f"remaining eggs: {remaining}")
            return earnings
        ''', eggs_per_day=16, eaten=3, baked=4, price=2),
    case("unit_conversions", '''
        def unit_conversions(quantities):
            factors = {"km": 1000, "m": 1, "cm": 0.01, "mm": 0.001}
            total = 0
            for text in quantities:
                amount, unit = text.split()
                total += float(amount) * factors[unit]
            return {"meters": round(total, 4), "formatted": f"{total:,.2f} m"}
        ''', quantities=["1.5 km", "250 m", "30 cm"]),
    case("percent_change", '''
        def percent_change(old, new):
            change = (new - old) / old * 100
            direction = "increase" if change > 0 else "decrease"
            return f"{abs(change):.1f}% {direction}"
        ''', old=80, new=92),
    case("json_and_strings", '''
        import json
        import string

        def json_and_strings(payload):
            data = json.loads(payload)
            letters = [c for c in data["word"] if c in string.ascii_lowercase]
            return json.dumps({"n": len(letters), "upper": data["word"].upper(), "keys": sorted(data)},
                              sort_keys=True)
        ''', payload='{"word": "Hello, World", "z": 1}'),
    case("date_difference", '''
        from datetime import date, timedelta

        def date_difference(start, end):
            a = date.fromisoformat(start)
            b = date.fromisoformat(end)
            days = (b - a).days
            return {"days": days, "weeks": days // 7, "later": (a + timedelta(days=100)).isoformat(),
                    "weekday": b.strftime("%A")}
        ''', start="2024-01-15", end="2024-03-01"),
    case("regex_number_extraction", r'''
        import re

        def regex_number_extraction(text):
            numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", text)]
            return {"numbers": numbers, "sum": sum(numbers),
                    "words": re.sub(r"\d+", "#", text).split()}
        ''', text="He bought 3 apples at 0.5 each and 12 pears, then lost -2."),
    case("matrix_without_numpy", '''
        def matrix_without_numpy(a, b):
            rows, inner, cols = len(a), len(b), len(b[0])
            out = [[0] * cols for _ in range(rows)]
            for i in range(rows):
                for j in range(cols):
                    for k in range(inner):
                        out[i][j] += a[i][k] * b[k][j]
            transpose = [list(col) for col in zip(*out)]
            return {"product": out, "transpose": transpose, "trace": sum(out[i][i] for i in range(min(rows, cols)))}
        ''', a=[[1, 2], [3, 4]], b=[[5, 6], [7, 8]]),
    case("brute_force_search", '''
        def brute_force_search(target):
            count = 0
            for a in range(1, 60):
                for b in range(a, 60):
                    c2 = target - a * a - b * b
                    if c2 < b * b:
                        break
                    c = int(round(c2 ** 0.5))
                    if c * c == c2:
                        count += 1
            return count
        ''', target=2025),
)


def plain_value(item: Case, encode: Any) -> Any:
    """What plain CPython returns for ``item`` (real builtins, no sandbox), encoded with ``encode``."""
    namespace: dict[str, Any] = {"__name__": f"corpus_{item.name}"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(item.code, f"{item.name}.py", "exec"), namespace)  # noqa: S102 - our own corpus
        return encode(namespace[item.name](**item.kwargs))


POLICY_MODULES = ("numpy.linalg", "numpy.random", "random")
"""Opt-in modules the corpus uses on top of the default allow-list (a toolset's usual ``[sandbox]`` table)."""


def run_corpus(sandbox: Any, function_set: Any, encode: Any) -> list[tuple[str, str]]:
    """Every case that fails in ``sandbox``, with the reason; an empty list means all passed.

    ``function_set`` builds one set of name -> source from every case (a toolset of many functions).
    """
    failures = []
    functions = function_set({item.name: item.code for item in CORPUS})
    for item in CORPUS:
        expected = plain_value(item, encode)
        try:
            got = sandbox.call(functions, item.name, item.kwargs).value
        except Exception as exc:  # noqa: BLE001 - a failing case is reported, not raised
            failures.append((item.name, f"{type(exc).__name__}: {exc}"))
            continue
        if got != expected:
            failures.append((item.name, f"got {got!r}, expected {expected!r}"))
    return failures


def main() -> None:
    from fnforge.sandbox import Sandbox, SandboxPolicy
    from fnforge.sandbox.boundary._encoder import Encoder
    from tests.sandbox.conftest import RawSet

    defaults = SandboxPolicy().allowed_modules
    policy = SandboxPolicy(allowed_modules=defaults + POLICY_MODULES)
    encoder = Encoder(max_chars=policy.max_result_chars, max_depth=policy.max_result_depth)
    import numpy
    import sympy

    encoder.bind(numpy=numpy, sympy_basic=sympy.Basic)
    with Sandbox(policy, workers=2) as sandbox:
        failures = run_corpus(sandbox, lambda sources: RawSet(**sources),
                              lambda v: encoder.encode(v)[0])
    for name, reason in failures:
        print(f"FAIL {name}: {reason}", file=sys.stderr)
    passed = len(CORPUS) - len(failures)
    print(f"benign corpus: {passed}/{len(CORPUS)} = {passed / len(CORPUS):.1%}")


if __name__ == "__main__":
    main()
