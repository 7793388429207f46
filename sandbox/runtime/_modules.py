"""Which modules untrusted code may import, and which of their names it sees.

Everything here is an **allow-list by name** (DESIGN.md §4): a name that is
not listed does not exist for sandboxed code, even if a later numpy or sympy
adds it. ``DENIED`` explains the best-known refusals so that the error an LLM
reads says why. ``tests/sandbox/test_modules.py`` asserts every listed name
still exists and no listed value is a module.

Decisions worth knowing:

- numpy: no file I/O (``load``, ``save*``, ``fromfile``, ``loadtxt``,
  ``genfromtxt``, ``fromregex``, ``memmap``, ``ndarray.tofile``/``dump``), no
  ``ctypeslib``/``f2py``/``lib``/``testing``, no process-global settings
  (``seterr``, ``set_printoptions``, buffer sizes), no ``bmat``/``r_``/``c_``
  (they read the caller's frame globals from a string), no ``frombuffer``/
  ``from_dlpack``. ``linalg``, ``fft`` and ``random`` are opt-in sub-proxies.
- sympy: everything mathematical in ``sympy.__all__``; not ``lambdify``,
  ``var`` (writes caller globals through frames), ``parse_expr``, plotting,
  printing to devices (``preview``, ``print_gtk``...), session/printing setup,
  global assumption handlers, ``sieve``/``factor_cache`` (shared mutable
  state), ``test``/``doctest``. ``sympify`` is served as a wrapper that accepts
  only plain math strings, and inside the worker ``parse_expr`` itself is
  replaced, so sympy's own string entry points (``S("...")``,
  ``solve("...")``, ``expr.subs("...")``) are plain-math-only too.
- stdlib: pure functions and value types only; never ``statistics.sys``,
  ``re.enum``, ``json.codecs``, ``string.Formatter`` (CVE-2023-41039),
  ``operator.attrgetter``/``methodcaller`` (they read ``_`` attributes without
  ``_getattr_``), ``functools.singledispatch`` (evaluates annotation strings),
  ``decimal.setcontext`` and the shared template contexts.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MODULES", "DENIED", "EXPOSED", "SAFE_BUILTINS", "SUBMODULES", "SUPPORTED_MODULES"]

SAFE_BUILTINS = frozenset((
    "abs all any ascii bin bool bytearray bytes callable chr classmethod complex dict divmod "
    "enumerate filter float format frozenset hash hex int isinstance issubclass iter len list map "
    "max min next oct ord pow property range repr reversed round set slice sorted staticmethod "
    "str sum tuple zip None True False Ellipsis NotImplemented __build_class__ "
    "ArithmeticError AssertionError AttributeError BaseException BufferError EOFError Exception "
    "FloatingPointError GeneratorExit ImportError IndexError KeyError KeyboardInterrupt "
    "LookupError MemoryError NameError NotImplementedError OSError OverflowError RecursionError "
    "ReferenceError RuntimeError StopIteration StopAsyncIteration SyntaxError SystemError "
    "TimeoutError TypeError UnboundLocalError UnicodeDecodeError UnicodeEncodeError UnicodeError "
    "ValueError ZeroDivisionError Warning UserWarning DeprecationWarning RuntimeWarning"
).split())
"""The builtins sandboxed code sees (plus guarded getattr/hasattr/type/__import__ and a read-only open)."""

DEFAULT_MODULES: tuple[str, ...] = (
    "bisect", "cmath", "collections", "datetime", "decimal", "fractions", "functools", "heapq",
    "itertools", "json", "math", "numpy", "operator", "re", "statistics", "string", "sympy",
)
"""DESIGN.md §4's default allow-list (numpy and sympy are proxied like the rest)."""

SUBMODULES: dict[str, tuple[str, ...]] = {"numpy": ("fft", "linalg", "random")}
"""Sub-proxies reachable as attributes (``np.linalg``) when ``numpy.<sub>`` is allowed."""

SUPPORTED_MODULES: frozenset[str] = frozenset(
    DEFAULT_MODULES + ("random", "typing", "numpy.fft", "numpy.linalg", "numpy.random")
)
"""Every module a policy may allow: only those with a curated proxy below."""


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


EXPOSED: dict[str, frozenset[str]] = {
    "__future__": _names("annotations"),
    "bisect": _names("bisect bisect_left bisect_right insort insort_left insort_right"),
    "cmath": _names(
        "acos acosh asin asinh atan atanh cos cosh e exp inf infj isclose isfinite isinf isnan "
        "log log10 nan nanj phase pi polar rect sin sinh sqrt tan tanh tau"
    ),
    "collections": _names("ChainMap Counter OrderedDict defaultdict deque namedtuple"),
    "datetime": _names("MAXYEAR MINYEAR date datetime time timedelta timezone"),
    "decimal": _names(
        "Clamped Context ConversionSyntax Decimal DecimalException DecimalTuple DivisionByZero "
        "DivisionImpossible DivisionUndefined FloatOperation Inexact InvalidContext "
        "InvalidOperation MAX_EMAX MAX_PREC MIN_EMIN MIN_ETINY Overflow ROUND_05UP ROUND_CEILING "
        "ROUND_DOWN ROUND_FLOOR ROUND_HALF_DOWN ROUND_HALF_EVEN ROUND_HALF_UP ROUND_UP Rounded "
        "Subnormal Underflow getcontext localcontext"
    ),
    "fractions": _names("Fraction"),
    "functools": _names(
        "cache cached_property cmp_to_key lru_cache partial partialmethod reduce total_ordering wraps"
    ),
    "heapq": _names("heapify heappop heappush heappushpop heapreplace merge nlargest nsmallest"),
    "itertools": _names(
        "accumulate chain combinations combinations_with_replacement compress count cycle "
        "dropwhile filterfalse groupby islice pairwise permutations product repeat starmap "
        "takewhile tee zip_longest"
    ),
    "json": _names("JSONDecodeError dumps loads"),
    "math": _names(
        "acos acosh asin asinh atan atan2 atanh cbrt ceil comb copysign cos cosh degrees dist e "
        "erf erfc exp exp2 expm1 fabs factorial floor fmod frexp fsum gamma gcd hypot inf isclose "
        "isfinite isinf isnan isqrt lcm ldexp lgamma log log10 log1p log2 modf nan nextafter perm "
        "pi pow prod radians remainder sin sinh sqrt tan tanh tau trunc ulp"
    ),
    "operator": _names(
        "abs add and_ concat contains countOf eq floordiv ge gt index indexOf inv invert is_ "
        "is_not itemgetter le lshift lt matmul mod mul ne neg not_ or_ pos pow rshift sub "
        "truediv truth xor"
    ),
    "random": _names(
        "betavariate choice choices expovariate gammavariate gauss lognormvariate normalvariate "
        "randint random randrange sample seed shuffle triangular uniform"
    ),
    "re": _names(
        "A ASCII DOTALL I IGNORECASE M MULTILINE Match NOFLAG Pattern S U UNICODE VERBOSE X "
        "compile error escape findall finditer fullmatch match search split sub subn"
    ),
    "statistics": _names(
        "NormalDist StatisticsError correlation covariance fmean geometric_mean harmonic_mean "
        "linear_regression mean median median_grouped median_high median_low mode multimode "
        "pstdev pvariance quantiles stdev variance"
    ),
    "string": _names(
        "Template ascii_letters ascii_lowercase ascii_uppercase capwords digits hexdigits "
        "octdigits printable punctuation whitespace"
    ),
    "typing": _names(
        "Any Callable Dict FrozenSet Iterable Iterator List Mapping Optional Sequence Set Tuple Union"
    ),
    "numpy.fft": _names(
        "fft fft2 fftfreq fftn fftshift hfft ifft ifft2 ifftn ifftshift ihfft irfft irfft2 irfftn "
        "rfft rfft2 rfftfreq rfftn"
    ),
    "numpy.linalg": _names(
        "LinAlgError cholesky cond cross det diagonal eig eigh eigvals eigvalsh inv lstsq matmul "
        "matrix_norm matrix_power matrix_rank matrix_transpose multi_dot norm outer pinv qr "
        "slogdet solve svd svdvals tensordot tensorinv tensorsolve trace vecdot vector_norm"
    ),
    "numpy.random": _names(
        "Generator PCG64 SeedSequence binomial choice default_rng exponential normal permutation "
        "poisson rand randint randn random seed shuffle uniform"
    ),
    "numpy": _names("""
False_ True_ abs absolute acos acosh add all allclose amax amin angle any append
apply_along_axis apply_over_axes arange arccos arccosh arcsin arcsinh arctan arctan2 arctanh
argmax argmin argpartition argsort argwhere around array array2string array_equal array_equiv
array_repr array_split array_str asanyarray asarray asarray_chkfinite ascontiguousarray
asfortranarray asin asinh astype atan atan2 atanh atleast_1d atleast_2d atleast_3d average
bartlett base_repr binary_repr bincount bitwise_and bitwise_count bitwise_invert
bitwise_left_shift bitwise_not bitwise_or bitwise_right_shift bitwise_xor blackman block bool
bool_ broadcast_arrays broadcast_shapes broadcast_to busday_count busday_offset byte bytes_
can_cast cbrt cdouble ceil character choose clip clongdouble column_stack common_type complex128
complex256 complex64 complexfloating compress concat concatenate conj conjugate convolve copy
copysign copyto corrcoef correlate cos cosh count_nonzero cov cross csingle cumprod cumsum
cumulative_prod cumulative_sum datetime64 datetime_as_string datetime_data deg2rad degrees
delete diag diag_indices diag_indices_from diagflat diagonal diff digitize divide divmod dot
double dsplit dstack dtype e ediff1d einsum einsum_path empty empty_like equal errstate
euler_gamma exp exp2 expand_dims expm1 extract eye fabs fill_diagonal finfo fix flatnonzero
flexible flip fliplr flipud float128 float16 float32 float64 float_power floating floor
floor_divide fmax fmin fmod format_float_positional format_float_scientific frexp fromfunction
fromiter frompyfunc fromstring full full_like gcd generic geomspace gradient greater
greater_equal half hamming hanning heaviside histogram histogram2d histogram_bin_edges
histogramdd hsplit hstack hypot i0 identity iinfo imag index_exp indices inexact inf inner
insert int16 int32 int64 int8 int_ intc integer interp intersect1d intp invert is_busday isclose
iscomplex iscomplexobj isdtype isfinite isfortran isin isinf isnan isnat isneginf isposinf
isreal isrealobj isscalar issubdtype iterable ix_ kaiser kron lcm ldexp left_shift less
less_equal lexsort linspace log log10 log1p log2 logaddexp logaddexp2 logical_and logical_not
logical_or logical_xor logspace long longdouble longlong mask_indices matmul matrix_transpose
matvec max maximum mean median meshgrid mgrid min min_scalar_type minimum mintypecode mod modf
moveaxis multiply nan nan_to_num nanargmax nanargmin nancumprod nancumsum nanmax nanmean
nanmedian nanmin nanpercentile nanprod nanquantile nanstd nansum nanvar ndarray ndenumerate ndim
ndindex negative newaxis nextafter nonzero not_equal number object_ ogrid ones ones_like outer
packbits pad partition percentile permute_dims pi piecewise place poly poly1d polyadd polyder
polydiv polyfit polyint polymul polysub polyval positive pow power prod promote_types ptp put
put_along_axis putmask quantile rad2deg radians ravel ravel_multi_index real real_if_close
reciprocal remainder repeat reshape resize result_type right_shift rint roll rollaxis roots
rot90 round row_stack s_ searchsorted select setdiff1d setxor1d shape short sign signbit
signedinteger sin sinc single sinh size sort sort_complex spacing split sqrt square squeeze
stack std str_ subtract sum swapaxes take take_along_axis tan tanh tensordot tile timedelta64
trace transpose trapezoid tri tril tril_indices tril_indices_from trim_zeros triu triu_indices
triu_indices_from true_divide trunc typecodes ubyte ufunc uint uint16 uint32 uint64 uint8 uintc
uintp ulong ulonglong union1d unique unique_all unique_counts unique_inverse unique_values
unpackbits unravel_index unsignedinteger unstack unwrap ushort vander var vdot vecdot vecmat
vectorize void vsplit vstack where zeros zeros_like
"""),
    "sympy": _names("""
Abs AccumBounds Add Adjoint AlgebraicField AlgebraicNumber And AppliedPredicate Array Atom
AtomicExpr BasePolynomialError Basic BlockDiagMatrix BlockMatrix CC CRootOf Catalan Chi Ci
Circle CoercionFailed Complement ComplexField ComplexRegion ComplexRootOf Complexes
ComputationFailed ConditionSet Contains CosineTransform Curve DenseNDimArray Derivative
Determinant DiagMatrix DiagonalMatrix DiagonalOf Dict DiracDelta DisjointUnion Domain
DomainError DotProduct Dummy E E1 EX EXRAW Ei Eijk Ellipse EmptySequence EmptySet Eq Equality
Equivalent EulerGamma EvaluationFailed ExactQuotientFailed Expr ExpressionDomain
ExtraneousFactors FF FF_gmpy FF_python FU FallingFactorial FiniteField FiniteSet FlagError Float
FourierTransform FractionField Function FunctionMatrix GF GMPYFiniteField
GMPYIntegerRing GMPYRationalField Ge GeneratorsError GeneratorsNeeded GeometryError GoldenRatio
GramSchmidt GreaterThan GroebnerBasis Gt HadamardPower HadamardProduct HankelTransform Heaviside
HeuristicGCDFailed HomomorphismFailed I ITE Id Identity Idx ImageSet ImmutableDenseMatrix
ImmutableDenseNDimArray ImmutableMatrix ImmutableSparseMatrix ImmutableSparseNDimArray Implies
Indexed IndexedBase Integer IntegerRing Integers Integral Intersection Interval Inverse
InverseCosineTransform InverseFourierTransform InverseHankelTransform InverseLaplaceTransform
InverseMellinTransform InverseSineTransform IsomorphismFailed KroneckerDelta KroneckerProduct LC
LM LT Lambda LambertW LaplaceTransform Le LessThan LeviCivita Li Limit Line Line2D Line3D Lt
MatAdd MatMul MatPow Matrix MatrixBase MatrixExpr MatrixPermute MatrixSlice MatrixSymbol Max
MellinTransform Min Mod Monomial Mul MultivariatePolynomialError MutableDenseMatrix
MutableDenseNDimArray MutableMatrix MutableSparseMatrix MutableSparseNDimArray N NDimArray Nand
Naturals Naturals0 Ne NonSquareMatrixError Nor Not NotAlgebraic NotInvertible NotReversible
Number NumberSymbol O OmegaPower OneMatrix OperationNotSupported OptionError Options Or Order
Ordinal POSform Parabola Permanent PermutationMatrix Piecewise Plane Point Point2D Point3D
PoleError PolificationFailed Poly Polygon PolynomialDivisionFailed PolynomialError
PolynomialRing Pow PowerSet PrecisionExhausted Predicate Product ProductSet PurePoly
PythonFiniteField PythonIntegerRing PythonRational Q QQ QQ_I QQ_gmpy QQ_python Quaternion RR
Range Rational RationalField Rationals Ray Ray2D Ray3D RealField RealNumber Reals
RefinementFailed RegularPolygon Rel Rem RisingFactorial RootOf RootSum S SOPform Segment
Segment2D Segment3D SeqAdd SeqFormula SeqMul SeqPer Set ShapeError Shi Si Sieve SineTransform
SingularityFunction SparseMatrix SparseNDimArray StrPrinter StrictGreaterThan StrictLessThan
Subs Sum Symbol SymmetricDifference SympifyError TableForm Trace Transpose Triangle
TribonacciConstant Tuple Unequality UnevaluatedExpr UnificationFailed Union
UnivariatePolynomialError UniversalSet Wild WildFunction Xor Ynm Ynm_c ZZ ZZ_I ZZ_gmpy ZZ_python
ZeroMatrix Znm abundance acos acosh acot acoth acsc acsch adjoint airyai airyaiprime airybi
airybiprime all_roots andre apart apart_list appellf1 apply_finite_diff approximants are_similar
arg arity asec asech asin asinh ask assemble_partfrac_list assoc_laguerre assoc_legendre atan
atan2 atanh banded bell bernoulli besseli besselj besselk besselsimp bessely beta betainc
betainc_regularized binomial binomial_coefficients binomial_coefficients_list block_collapse
blockcut bool_map bottom_up bspline_basis bspline_basis_set cancel carmichael cartes casoratian
catalan cbrt ccode ceiling centroid chebyshevt chebyshevt_poly chebyshevt_root chebyshevu
chebyshevu_poly chebyshevu_root check_assumptions checkodesol checkpdesol checksol classify_ode
classify_pde closest_points cofactors collect collect_const combsimp comp compose composite
compositepi conjugate construct_domain content continued_fraction continued_fraction_convergents
continued_fraction_iterator continued_fraction_periodic continued_fraction_reduce convex_hull
convolution cos cosh cosine_transform cot coth count_ops count_roots covering_product csc csch
cse cxxcode cycle_length cyclotomic_poly decompogen decompose default_sort_key deg degree
degree_list denom derive_by_array det det_quick diag diagonalize_vector dict_merge diff
difference_delta differentiate_finite digamma diophantine dirichlet_eta discrete_log
discriminant div divisor_count divisor_sigma divisors dsolve egyptian_fraction elliptic_e
elliptic_f elliptic_k elliptic_pi erf erf2 erf2inv erfc erfcinv erfi erfinv euler
euler_equations exp exp_polar expand expand_complex expand_func expand_log expand_mul
expand_multinomial expand_power_base expand_power_exp expand_trig expint exptrigsimp exquo eye
factor factor_list factor_nc factor_system factor_terms factorial factorial2 factorint factorrat
failing_assumptions false farthest_points fcode ff fft fibonacci field field_isomorphism
finite_diff_weights flatten floor fourier_series fourier_transform fps frac fraction fresnelc
fresnels fu fwht galois_group gamma gammasimp gcd gcd_list gcd_terms gcdex gegenbauer genocchi
get_contraction_structure get_indices gff gff_list glsl_code grevlex grlex groebner ground_roots
group gruntz hadamard_product half_gcdex hankel1 hankel2 hankel_transform harmonic has_dups
has_variety hermite hermite_poly hermite_prob hermite_prob_poly hessian hn1 hn2
homogeneous_order horner hyper hyperexpand hypersimilar hypersimp idiff ifft ifwht igcd igrevlex
igrlex ilcm ilex im imageset integer_log integer_nthroot integrate interpolate
interpolating_poly interpolating_spline intersecting_product intersection intervals intt
inv_quick inverse_cosine_transform inverse_fourier_transform inverse_hankel_transform
inverse_laplace_transform inverse_mellin_transform inverse_mobius_transform
inverse_sine_transform invert is_abundant is_amicable is_carmichael is_convex is_decreasing
is_deficient is_increasing is_mersenne_prime is_monotonic is_nthpow_residue is_perfect
is_primitive_root is_quad_residue is_strictly_decreasing is_strictly_increasing
is_zero_dimensional isolate isprime itermonomials jacobi jacobi_normalized jacobi_poly
jacobi_symbol jn jn_zeros jordan_cell jscode julia_code kronecker_product kronecker_symbol
kroneckersimp laguerre laguerre_poly laplace_correspondence laplace_initial_conds
laplace_transform latex lcm lcm_list legendre legendre_poly legendre_symbol lerchphi lex li
limit limit_seq line_integrate linear_eq_to_matrix linsolve ln log logcombine loggamma
lowergamma lucas maple_code marcumq mathematica_code mathieuc mathieucprime mathieus
mathieusprime mathml matrix_multiply_elementwise matrix_symbols maximum meijerg mellin_transform
mersenne_prime_exponent minimal_polynomial minimum minpoly mobius mobius_transform mod_inverse
monic motzkin multigamma multiline_latex multinomial_coefficients multiplicity n_order nan
nextprime nfloat nonlinsolve not_empty_in npartitions nroots nsimplify nsolve
nth_power_roots_poly nthroot_mod ntt num_digits numbered_symbols numer octave_code ode_order
ones oo ord0 ordered partition pde_separate pde_separate_add pde_separate_mul pdiv pdsolve per
perfect_power periodic_argument periodicity permutedims pexquo pi piecewise_exclusive
piecewise_fold polar_lift polarify pollard_pm1 pollard_rho poly poly_from_expr polygamma polylog
posify postfixes postorder_traversal powdenest powsimp pquo prefixes prem preorder_traversal
pretty prevprime prime prime_decomp prime_valuation primefactors primenu primeomega primepi
primerange primitive primitive_element primitive_root primorial principal_branch prod product
proper_divisor_count proper_divisors pycode python quadratic_congruence quadratic_residues quo
rad radsimp randMatrix random_poly randprime rational_interpolate ratsimp ratsimpmodprime rcode
rcollect re real_root real_roots reduce_abs_inequalities reduce_abs_inequality
reduce_inequalities reduced reduced_totient refine refine_root rem reshape residue resultant rf
riemann_xi ring root rootof roots rot_axis1 rot_axis2 rot_axis3 rot_ccw_axis1 rot_ccw_axis2
rot_ccw_axis3 rot_givens rotations round_two rsolve rsolve_hyper rsolve_poly rsolve_ratio
rust_code satisfiable sec sech separatevars sequence series sfield shape sift sign signsimp
simplify simplify_logic sin sinc sine_transform singularities singularityintegrate sinh
smtlib_code solve solve_linear solve_linear_system solve_linear_system_LU solve_poly_inequality
solve_poly_system solve_rational_inequalities solve_triangulated solve_undetermined_coeffs
solve_univariate_inequality solveset sqf sqf_list sqf_norm sqf_part sqrt sqrt_mod sqrt_mod_iter
sqrtdenest srepr sring sstr sstrrepr stationary_points stieltjes sturm subfactorial
subresultants subsets substitution summation swinnerton_dyer_poly symbols symmetric_poly
symmetrize sympify take tan tanh tensorcontraction tensordiagonal tensorproduct terms_gcd to_cnf
to_dnf to_nnf to_number_field together topological_sort total_degree totient trace trailing
transpose tribonacci trigamma trigsimp true trunc unbranched_argument unflatten unpolarify
uppergamma variations vectorize vfield viete vring wronskian xfield xring yn zeros zeta zoo
"""),
}
"""Module name -> the names its proxy exposes (sub-proxies come from SUBMODULES)."""

DENIED: dict[str, str] = {
    "numpy.fromfile": "file I/O", "numpy.load": "file I/O and pickles", "numpy.loadtxt": "file I/O",
    "numpy.save": "file I/O", "numpy.savetxt": "file I/O", "numpy.savez": "file I/O",
    "numpy.genfromtxt": "file I/O", "numpy.fromregex": "file I/O", "numpy.memmap": "file I/O",
    "numpy.ctypeslib": "native memory access", "numpy.frombuffer": "raw memory",
    "numpy.from_dlpack": "raw memory", "numpy.f2py": "runs compilers and processes",
    "numpy.lib": "file I/O and unchecked memory views", "numpy.testing": "process access",
    "numpy.bmat": "reads caller frames", "numpy.r_": "reads caller frames",
    "numpy.c_": "reads caller frames", "numpy.seterr": "process-global state",
    "numpy.set_printoptions": "process-global state",
    "sympy.lambdify": "evaluates generated code", "sympy.parse_expr": "evaluates strings",
    "sympy.var": "writes caller globals", "sympy.external": "imports any module",
    "sympy.parsing": "evaluates strings", "sympy.printing": "runs external programs",
    "sympy.plotting": "runs external programs", "sympy.plot": "runs external programs",
    "sympy.preview": "runs external programs", "sympy.utilities": "code generation and imports",
    "sympy.FunctionClass": "builds classes with any special methods",
    "sympy.interactive": "changes the interpreter", "sympy.init_printing": "changes the interpreter",
    "statistics.sys": "interpreter access", "statistics.random": "a module",
    "fractions.sys": "interpreter access", "datetime.sys": "interpreter access",
    "re.enum": "a module", "re.copyreg": "a module", "re.functools": "a module",
    "json.codecs": "a module", "json.decoder": "a module", "json.encoder": "a module",
    "string.Formatter": "reads attributes without guards (CVE-2023-41039)",
    "operator.attrgetter": "reads attributes without guards",
    "operator.methodcaller": "calls methods without guards",
    "operator.setitem": "writes without guards", "operator.delitem": "writes without guards",
    "functools.singledispatch": "evaluates annotation strings",
    "decimal.setcontext": "process-global state", "decimal.DefaultContext": "process-global state",
    "collections.abc": "a module",
}
"""``module.name`` -> why the proxy refuses it (shown in the violation message)."""
