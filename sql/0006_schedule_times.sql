-- 0006 schedule times: cron parsing and evaluation in PL/pgSQL, exactly as Dagster fires.
--
-- Public functions
--   cron_problem(expression)            -> NULL when Dagster accepts it, else the reason
--   cron_is_valid(expression)           -> boolean
--   timezone_problem(timezone)          -> NULL for a known IANA name, else the reason
--   cron_next_run(expression, timezone, after) -> first tick strictly after `after`
--   cron_next_runs(expression, timezone, after, n) -> the next n ticks
--   schedule_next_run(type, cron, interval_minutes, fixed_times, timezone, start_date,
--                     end_date, last_run_time, after) -> next run of a schedule row's values
--   calculate_next_run_time() + trigger update_next_run_time on integration_schedules
--
-- The oracle is dagster._utils.schedules.cron_string_iterator (Dagster 1.13): a
-- vendored croniter for the general case, with its own special-cased hourly / daily /
-- weekly / monthly iterators and DST rules:
--   * spring forward: a wall time that does not exist fires at the end of the gap
--     (02:30 -> 03:00 in New York), except for schedules whose hour field is `*`,
--     which skip it;
--   * fall back: a repeated wall time fires once, at its second (standard time)
--     occurrence, except for schedules whose hour field is `*`, which fire at both;
--   * the special-cased paths are ported literally (including their quirks), so
--     the values match Dagster instant for instant.
-- Python datetimes are emulated as (wall timestamp, fold); `fold` picks the first (0)
-- or second (1) occurrence of an ambiguous wall time, as in Python's zoneinfo.

-- ---------------------------------------------------------------------------------------
-- Time zone helpers
-- ---------------------------------------------------------------------------------------

-- NULL when tz is a time zone name PostgreSQL knows (pg_timezone_names), else the reason.
-- pg_timezone_names reads the whole zone database (~50 ms), so names already checked
-- are remembered for the session in the setting integration.valid_timezones.
CREATE FUNCTION timezone_problem(tz text) RETURNS text
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS $$
DECLARE
    v_cache text := coalesce(current_setting('integration.valid_timezones', true), '');
BEGIN
    IF tz IS NULL THEN
        RETURN 'time zone is missing';
    END IF;
    IF tz !~ '^[A-Za-z][A-Za-z0-9_+/-]*$' THEN
        RETURN 'not an IANA time zone name';
    END IF;
    IF position('|' || tz || '|' IN v_cache) > 0 THEN
        RETURN NULL;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = tz) THEN
        RETURN 'unknown time zone (not in pg_timezone_names)';
    END IF;
    PERFORM set_config('integration.valid_timezones',
                       CASE WHEN v_cache = '' THEN '|' ELSE v_cache END || tz || '|', false);
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION timezone_problem(text) IS
    'NULL when the argument is a time zone name known to PostgreSQL (pg_timezone_names), else why not.';

-- Offset (local - UTC) in effect at instant u in zone tz.
CREATE FUNCTION _tz_offset(u timestamptz, tz text) RETURNS interval
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT (u AT TIME ZONE tz) - (u AT TIME ZONE 'UTC')
$$;

-- The two readings of a wall time: `pre` with the offset in effect before a nearby
-- transition (Python fold=0), `post` with the offset after it (fold=1); kind is
-- 0 (unique wall time), 1 (ambiguous: repeated at fall back) or 2 (in a spring-forward gap).
CREATE FUNCTION _tz_readings(wall timestamp, tz text,
                             OUT pre timestamptz, OUT post timestamptz, OUT kind integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    u0 timestamptz := wall AT TIME ZONE tz;
    o_before interval := _tz_offset(u0 - interval '3 hours', tz);
    o_after interval := _tz_offset(u0 + interval '3 hours', tz);
    pre_ok boolean;
    post_ok boolean;
BEGIN
    IF o_before = o_after THEN
        pre := (wall - o_before) AT TIME ZONE 'UTC';
        IF (pre AT TIME ZONE tz) = wall THEN
            post := pre;
            kind := 0;
            RETURN;
        END IF;
        -- far from a transition the conversion is unique
        pre := u0; post := u0; kind := 0;
        RETURN;
    END IF;
    pre := (wall - o_before) AT TIME ZONE 'UTC';
    post := (wall - o_after) AT TIME ZONE 'UTC';
    pre_ok := (pre AT TIME ZONE tz) = wall;
    post_ok := (post AT TIME ZONE tz) = wall;
    IF pre_ok AND post_ok THEN
        kind := 1;
    ELSIF NOT pre_ok AND NOT post_ok THEN
        kind := 2;
    ELSIF pre_ok THEN
        post := pre; kind := 0;
    ELSE
        pre := post; kind := 0;
    END IF;
END
$$;

-- Python's aware_datetime.timestamp() for (wall, fold) in zone tz.
CREATE FUNCTION _py_instant(wall timestamp, fold integer, tz text) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN fold = 1 THEN r.post ELSE r.pre END FROM _tz_readings(wall, tz) r
$$;

-- Python's datetime.fromtimestamp(u, tz): the wall time and its fold.
CREATE FUNCTION _py_from_instant(u timestamptz, tz text, OUT wall timestamp, OUT fold integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    r record;
BEGIN
    wall := u AT TIME ZONE tz;
    fold := 0;
    SELECT * INTO r FROM _tz_readings(wall, tz);
    IF r.kind = 1 AND u = r.post AND r.post <> r.pre THEN
        fold := 1;
    END IF;
END
$$;

-- dagster apply_post_transition: a wall time in hours 1-3 that does not exist moves to
-- the end of the gap (start of the hour + the DST amount); additions reset fold to 0.
CREATE FUNCTION _py_post_transition(INOUT wall timestamp, INOUT fold integer, tz text)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    r record;
BEGIN
    IF extract(hour FROM wall) IN (1, 2, 3) THEN
        SELECT * INTO r FROM _tz_readings(wall, tz);
        IF r.kind = 2 THEN
            wall := date_trunc('hour', wall) + (r.pre - r.post);
            fold := 0;
        END IF;
    END IF;
END
$$;

-- dagster apply_fold_and_post_transition.
CREATE FUNCTION _py_fold_post(INOUT wall timestamp, INOUT fold integer, tz text)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    r record;
BEGIN
    SELECT p.wall, p.fold INTO wall, fold FROM _py_post_transition(wall, fold, tz) p;
    IF fold = 0 AND extract(hour FROM wall) IN (1, 2, 3) THEN
        SELECT * INTO r FROM _tz_readings(wall, tz);
        IF r.kind <> 0 THEN
            fold := 1;
        END IF;
    END IF;
END
$$;

-- dagster _replace_date_fields(date, hour, minute, day).
CREATE FUNCTION _py_replace(INOUT wall timestamp, INOUT fold integer, tz text,
                            p_hour integer, p_minute integer, p_day integer)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT f.wall, f.fold
      FROM _py_fold_post(
               make_timestamp(extract(year FROM wall)::int, extract(month FROM wall)::int,
                              p_day, p_hour, p_minute, 0),
               fold, tz) f
$$;

-- ---------------------------------------------------------------------------------------
-- Parsing (a port of croniter's expand for the standard 5-field syntax)
-- ---------------------------------------------------------------------------------------

-- A parsed expression: the raw text and the allowed values of each field; -1 in a list
-- stands for croniter's '*' ({-1} = the whole field), 99 in day_of_month for 'L'.
CREATE TYPE cron_spec AS (
    expression   text,
    minutes      integer[],
    hours        integer[],
    days         integer[],
    months       integer[],
    days_of_week integer[]
);

CREATE FUNCTION _cron_field_name(i integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (ARRAY['minute', 'hour', 'day-of-month', 'month', 'day-of-week'])[i + 1]
$$;

-- Name or number -> number (croniter _alphaconv); NULL when unknown.
CREATE FUNCTION _cron_alpha(i integer, token text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE i
        WHEN 3 THEN array_position(ARRAY['jan','feb','mar','apr','may','jun','jul','aug',
                                         'sep','oct','nov','dec'], token)
        WHEN 4 THEN array_position(ARRAY['sun','mon','tue','wed','thu','fri','sat'], token) - 1
    END
$$;

-- One field -> allowed values (sorted, -1 = '*', 99 = 'L'), or the problem.
CREATE FUNCTION _cron_parse_field(i integer, expr text, raw_dom text, raw_dow text,
                                  OUT vals integer[], OUT problem text)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    lo_r integer := (ARRAY[0, 0, 1, 1, 0])[i + 1];
    hi_r integer := (ARRAY[59, 23, 31, 12, 6])[i + 1];
    all_len integer := (ARRAY[60, 24, 31, 12, 7])[i + 1];
    fname text := _cron_field_name(i);
    e text;
    t text;
    m text[];
    s_low text;
    s_high text;
    low integer;
    high integer;
    step numeric;
    v integer;
    last_v integer;
    res integer[] := '{}';
BEGIN
    IF position('?' IN expr) > 0 THEN
        IF expr <> '?' THEN
            problem := format('%s field "%s": "?" cannot be combined with other characters', fname, expr);
            RETURN;
        END IF;
        IF i NOT IN (2, 4) THEN
            problem := format('"?" is only allowed in day-of-month or day-of-week, not in the %s field', fname);
            RETURN;
        END IF;
        expr := '*';
    END IF;
    FOREACH e IN ARRAY string_to_array(expr, ',') LOOP
        IF e = '' THEN
            problem := format('%s field "%s" has an empty list element', fname, expr);
            RETURN;
        END IF;
        IF e ~ '#' OR (i = 4 AND e ~ '^l') OR e ~ '^[hr](\(|/|$)' OR e ~ 'w$' THEN
            problem := format('%s field "%s": the extended syntax "%s" (nth weekday #, last L, hash H, W) is not supported',
                              fname, expr, e);
            RETURN;
        END IF;
        t := regexp_replace(e, '^\*(/.+)$', lo_r || '-' || hi_r || '\1');
        m := regexp_match(t, '^([^-]+)-([^-/]+)(/([0-9]+))?$');
        IF m IS NULL THEN
            t := regexp_replace(e, '^(.+)/(.+)$', '\1-' || hi_r || '/\2');
            m := regexp_match(t, '^([^-]+)-([^-/]+)(/([0-9]+))?$');
        END IF;
        IF m IS NOT NULL THEN
            s_low := m[1];
            s_high := m[2];
            IF i = 2 AND s_high = 'l' THEN
                s_high := '31';
            END IF;
            FOREACH t IN ARRAY ARRAY[s_low, s_high] LOOP
                IF t !~ '^[0-9]+$' AND _cron_alpha(i, t) IS NULL THEN
                    problem := format('%s field "%s": "%s" is not a number%s', fname, expr, t,
                                      CASE i WHEN 3 THEN ' or month name (JAN-DEC)'
                                             WHEN 4 THEN ' or day name (SUN-SAT)' ELSE '' END);
                    RETURN;
                END IF;
            END LOOP;
            IF s_low ~ '^[0-9]+$' AND s_low::numeric > 1000 OR s_high ~ '^[0-9]+$' AND s_high::numeric > 1000 THEN
                problem := format('%s field "%s": %s out of range %s-%s', fname, expr,
                                  CASE WHEN s_low ~ '^[0-9]+$' AND s_low::numeric > 1000 THEN s_low ELSE s_high END,
                                  lo_r, hi_r);
                RETURN;
            END IF;
            low := CASE WHEN s_low ~ '^[0-9]+$' THEN s_low::integer ELSE _cron_alpha(i, s_low) END;
            high := CASE WHEN s_high ~ '^[0-9]+$' THEN s_high::integer ELSE _cron_alpha(i, s_high) END;
            step := coalesce(m[4], '1')::numeric;
            IF i = 4 THEN
                low := CASE WHEN low = 7 THEN 0 ELSE low END;
                high := CASE WHEN high = 7 THEN 0 ELSE high END;
            END IF;
            IF greatest(low, high) > hi_r THEN
                problem := format('%s field "%s": %s out of range %s-%s', fname, expr, greatest(low, high), lo_r, hi_r);
                RETURN;
            END IF;
            IF step = 0 THEN
                problem := format('%s field "%s": step 0 is not allowed', fname, expr);
                RETURN;
            END IF;
            IF step > 1000 THEN
                step := 1000;
            END IF;
            IF low > high THEN
                -- wrap-around range (e.g. FRI-MON, 50-10): low..max then min(+skip)..high
                last_v := NULL;
                FOR v IN SELECT g FROM generate_series(low, hi_r, step::integer) g LOOP
                    res := res || v;
                    last_v := v;
                END LOOP;
                DECLARE
                    to_skip integer := 0;
                BEGIN
                    IF last_v IS NOT NULL AND (last_v - lo_r) + step > hi_r - lo_r + 1
                       AND hi_r - last_v < step THEN
                        to_skip := step::integer - (hi_r - last_v);
                    END IF;
                    res := res || ARRAY(SELECT g FROM generate_series(lo_r + to_skip, high, step::integer) g);
                END;
            ELSIF low = high THEN
                -- croniter: "a range like 5-5 or SUN-SUN means the whole cycle"
                res := res || ARRAY(SELECT g FROM generate_series(lo_r, hi_r, step::integer) g);
            ELSE
                res := res || ARRAY(SELECT g FROM generate_series(low, high, step::integer) g);
            END IF;
            -- every value of the range is then checked like a single value
            IF EXISTS (SELECT 1 FROM unnest(res) x WHERE x <> -1 AND x <> 99 AND (x < lo_r OR x > hi_r)) THEN
                problem := format('%s field "%s": %s out of range %s-%s', fname, expr,
                                  (SELECT min(x) FROM unnest(res) x WHERE x <> -1 AND x <> 99 AND (x < lo_r OR x > hi_r)),
                                  lo_r, hi_r);
                RETURN;
            END IF;
        ELSE
            IF left(e, 1) = '-' THEN
                problem := format('%s field "%s": negative numbers are not allowed', fname, expr);
                RETURN;
            END IF;
            IF e = '*' THEN
                res := res || -1;
            ELSIF i = 2 AND e = 'l' THEN
                res := res || 99;
            ELSIF e ~ '^[0-9]+$' OR _cron_alpha(i, e) IS NOT NULL THEN
                IF e ~ '^[0-9]+$' AND e::numeric > 1000 THEN
                    problem := format('%s %s out of range %s-%s', fname, e, lo_r, hi_r);
                    RETURN;
                END IF;
                v := CASE WHEN e ~ '^[0-9]+$' THEN e::integer ELSE _cron_alpha(i, e) END;
                IF i = 4 AND v = 7 THEN
                    v := 0;
                END IF;
                IF v < lo_r OR v > hi_r THEN
                    problem := format('%s %s out of range %s-%s', fname, v, lo_r, hi_r);
                    RETURN;
                END IF;
                res := res || v;
            ELSE
                problem := format('%s field "%s": "%s" is not a number%s', fname, expr, e,
                                  CASE i WHEN 3 THEN ' or month name (JAN-DEC)'
                                         WHEN 4 THEN ' or day name (SUN-SAT)' ELSE '' END);
                RETURN;
            END IF;
        END IF;
    END LOOP;
    res := ARRAY(SELECT DISTINCT x FROM unnest(res) x ORDER BY x);
    IF cardinality(res) = all_len
       AND NOT (i = 2 AND position('*' IN raw_dow) = 0)
       AND NOT (i = 4 AND position('*' IN raw_dom) = 0) THEN
        res := '{-1}';
    END IF;
    vals := res;
END
$$;

-- Parse an expression; `problem` is NULL when Dagster accepts it.
CREATE FUNCTION _cron_parse(expression text, OUT spec cron_spec, OUT problem text)
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    efl text;
    parts text[];
    f record;
    vals integer[][] := '{}';
    k integer;
    fields integer[][];
BEGIN
    IF expression IS NULL THEN
        problem := 'the expression is missing';
        RETURN;
    END IF;
    efl := lower(expression);
    efl := CASE efl
        WHEN '@midnight' THEN '0 0 * * *'
        WHEN '@hourly' THEN '0 * * * *'
        WHEN '@daily' THEN '0 0 * * *'
        WHEN '@weekly' THEN '0 0 * * 0'
        WHEN '@monthly' THEN '0 0 1 * *'
        WHEN '@yearly' THEN '0 0 1 1 *'
        WHEN '@annually' THEN '0 0 1 1 *'
        ELSE efl END;
    efl := regexp_replace(efl, '^[[:space:]]+|[[:space:]]+$', '', 'g');
    parts := CASE WHEN efl = '' THEN '{}' ELSE regexp_split_to_array(efl, '[[:space:]]+') END;
    IF cardinality(parts) <> 5 THEN
        problem := format('expected 5 fields (minute hour day-of-month month day-of-week), got %s',
                          cardinality(parts));
        RETURN;
    END IF;
    spec.expression := expression;
    FOR k IN 0..4 LOOP
        SELECT * INTO f FROM _cron_parse_field(k, parts[k + 1], parts[3], parts[5]);
        IF f.problem IS NOT NULL THEN
            problem := f.problem;
            spec := NULL;
            RETURN;
        END IF;
        CASE k
            WHEN 0 THEN spec.minutes := f.vals;
            WHEN 1 THEN spec.hours := f.vals;
            WHEN 2 THEN spec.days := f.vals;
            WHEN 3 THEN spec.months := f.vals;
            ELSE spec.days_of_week := f.vals;
        END CASE;
    END LOOP;
    IF spec.months = '{2}' AND (spec.days = '{30}' OR spec.days = '{31}') THEN
        problem := format('day-of-month %s never occurs in February', spec.days[1]);
        spec := NULL;
    END IF;
END
$$;

CREATE FUNCTION cron_problem(expression text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT problem FROM _cron_parse(expression)
$$;
COMMENT ON FUNCTION cron_problem(text) IS
    'NULL when Dagster accepts the cron expression (standard 5-field syntax), else the reason.';

CREATE FUNCTION cron_is_valid(expression text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT problem IS NULL FROM _cron_parse(expression)
$$;
COMMENT ON FUNCTION cron_is_valid(text) IS
    'True when Dagster accepts the cron expression (dagster._utils.schedules.is_valid_cron_string).';

-- ---------------------------------------------------------------------------------------
-- croniter's search on naive wall times (port of croniter._calc, forward direction)
-- ---------------------------------------------------------------------------------------

-- croniter _get_next_nearest_diff (vals sorted, 99 = 'L' = range_val).
CREATE FUNCTION _cron_nearest_diff(x integer, vals integer[], range_val integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    d integer;
BEGIN
    FOREACH d IN ARRAY vals LOOP
        IF d = 99 THEN
            d := range_val;
        ELSIF d > range_val THEN
            CONTINUE;
        END IF;
        IF d >= x THEN
            RETURN d - x;
        END IF;
    END LOOP;
    RETURN (CASE WHEN vals[1] = 99 THEN range_val ELSE vals[1] END) - x + range_val;
END
$$;

-- One croniter._calc pass: smallest matching naive minute strictly after cur's minute
-- (NULL after 50 years without a match).
CREATE FUNCTION _cron_calc(s cron_spec, cur timestamp) RETURNS timestamp
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    d timestamp := date_trunc('second', cur) + interval '1 minute';
    cur_year integer := extract(year FROM d);
    y integer;
    mo integer;
    days integer;
    diff integer;
BEGIN
    LOOP
        y := extract(year FROM d);
        mo := extract(month FROM d);
        IF abs(y - cur_year) > 50 THEN
            RETURN NULL;
        END IF;
        IF NOT (-1 = ANY (s.months)) THEN
            diff := _cron_nearest_diff(mo, s.months, 12);
            IF diff <> 0 THEN
                d := make_timestamp(y, mo, 1, 0, 0, 0) + make_interval(months => diff);
                CONTINUE;
            END IF;
        END IF;
        IF NOT (-1 = ANY (s.days)) THEN
            days := extract(day FROM date_trunc('month', d) + interval '1 month' - interval '1 day');
            IF NOT (99 = ANY (s.days) AND days = extract(day FROM d)) THEN
                diff := _cron_nearest_diff(extract(day FROM d)::int, s.days, days);
                IF diff <> 0 THEN
                    d := date_trunc('day', d) + make_interval(days => diff);
                    CONTINUE;
                END IF;
            END IF;
        END IF;
        IF NOT (-1 = ANY (s.days_of_week)) THEN
            diff := _cron_nearest_diff(extract(dow FROM d)::int, s.days_of_week, 7);
            IF diff <> 0 THEN
                d := date_trunc('day', d) + make_interval(days => diff);
                CONTINUE;
            END IF;
        END IF;
        IF NOT (-1 = ANY (s.hours)) THEN
            diff := _cron_nearest_diff(extract(hour FROM d)::int, s.hours, 24);
            IF diff <> 0 THEN
                d := date_trunc('hour', d) + make_interval(hours => diff);
                CONTINUE;
            END IF;
        END IF;
        IF NOT (-1 = ANY (s.minutes)) THEN
            diff := _cron_nearest_diff(extract(minute FROM d)::int, s.minutes, 60);
            IF diff <> 0 THEN
                d := date_trunc('minute', d) + make_interval(mins => diff);
                CONTINUE;
            END IF;
        END IF;
        RETURN date_trunc('minute', d);
    END LOOP;
END
$$;

-- croniter get_next on naive times, with the day-of-month OR day-of-week rule: when both
-- fields are restricted (neither starts with '*'), a day matching either one fires.
CREATE FUNCTION _cron_naive_next(s cron_spec, cur timestamp) RETURNS timestamp
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    a cron_spec := s;
    b cron_spec := s;
    t1 timestamp;
    t2 timestamp;
BEGIN
    IF s.days[1] <> -1 AND s.days_of_week[1] <> -1 THEN
        a.days_of_week := '{-1}';
        b.days := '{-1}';
        t1 := _cron_calc(a, cur);
        t2 := _cron_calc(b, cur);
        IF t1 IS NULL OR t2 IS NULL THEN
            RETURN coalesce(t1, t2);
        END IF;
        RETURN least(t1, t2);
    END IF;
    RETURN _cron_calc(s, cur);
END
$$;

-- dagster _timezone_aware_cron_iter (ascending): the first tick strictly after `after`.
CREATE FUNCTION _cron_general_next(s cron_spec, tz text, after timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    cur timestamp := (after AT TIME ZONE tz) - interval '1 hour';
    repeats_every_hour boolean := s.hours = '{-1}';
    w timestamp;
    r record;
    pt record;
    cands timestamptz[];
    c timestamptz;
    n integer := 0;
BEGIN
    LOOP
        n := n + 1;
        IF n > 10000 THEN
            RETURN NULL;
        END IF;
        w := _cron_naive_next(s, cur);
        IF w IS NULL THEN
            RETURN NULL;
        END IF;
        cur := w;
        SELECT * INTO r FROM _tz_readings(w, tz);
        IF r.kind = 2 THEN
            IF repeats_every_hour THEN
                cands := '{}';
            ELSE
                SELECT p.wall, p.fold INTO pt FROM _py_post_transition(w, 0, tz) p;
                cands := ARRAY[_py_instant(pt.wall, pt.fold, tz)];
            END IF;
        ELSIF r.kind = 1 THEN
            IF NOT repeats_every_hour THEN
                cands := ARRAY[r.post];
            ELSE
                -- hourly-repeating: both occurrences of every wall time of the repeated hour
                cands := ARRAY[r.post, r.pre];
                DECLARE
                    first_post timestamptz := r.post;
                    cur_pre timestamptz := r.pre;
                    rr record;
                BEGIN
                    WHILE cur_pre < first_post LOOP
                        w := _cron_naive_next(s, cur);
                        EXIT WHEN w IS NULL;
                        cur := w;
                        SELECT * INTO rr FROM _tz_readings(w, tz);
                        cur_pre := rr.pre;
                        cands := cands || rr.pre || rr.post;
                    END LOOP;
                END;
                cands := ARRAY(SELECT x FROM unnest(cands) x ORDER BY x);
            END IF;
        ELSE
            cands := ARRAY[r.pre];
        END IF;
        FOREACH c IN ARRAY cands LOOP
            IF c > after THEN
                RETURN c;
            END IF;
        END LOOP;
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Dagster's special-cased iterators (ports of dagster._utils.schedules._find_*_time)
-- ---------------------------------------------------------------------------------------

CREATE FUNCTION _py_mod(a numeric, b numeric) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ((a % b) + b) % b
$$;

-- _find_hourly_schedule_time, on instants.
CREATE FUNCTION _dg_find_hourly(minutes integer[], d timestamptz, tz text, ascending boolean,
                                on_boundary boolean, use_tz_minutes boolean) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    wall timestamp := d AT TIME ZONE tz;
    d_ts numeric := extract(epoch FROM d);
    new_ts numeric;
    cur_min numeric;
    cand numeric;
    final numeric;
    mi integer;
BEGIN
    IF cardinality(minutes) = 1 AND (on_boundary OR (extract(minute FROM wall) = minutes[1]
                                                      AND date_trunc('minute', wall) = wall)) THEN
        RETURN d + CASE WHEN ascending THEN interval '1 hour' ELSE interval '-1 hour' END;
    END IF;
    IF ascending THEN
        new_ts := ceil(d_ts);
        new_ts := new_ts + _py_mod(60 - _py_mod(new_ts, 60), 60);
    ELSE
        new_ts := floor(d_ts);
        new_ts := new_ts - _py_mod(new_ts, 60);
    END IF;
    IF use_tz_minutes THEN
        cur_min := extract(minute FROM (to_timestamp(new_ts::double precision) AT TIME ZONE tz));
    ELSE
        cur_min := _py_mod(floor(new_ts / 60), 60);
    END IF;
    FOREACH mi IN ARRAY minutes LOOP
        IF ascending THEN
            cand := new_ts + 60 * _py_mod(mi - cur_min, 60);
            IF cand <= d_ts THEN
                cand := cand + 3600;
            END IF;
            final := CASE WHEN final IS NULL OR final = 0 THEN cand ELSE least(final, cand) END;
        ELSE
            cand := new_ts - 60 * _py_mod(cur_min - mi, 60);
            IF cand >= d_ts THEN
                cand := cand - 3600;
            END IF;
            final := CASE WHEN final IS NULL OR final = 0 THEN cand ELSE greatest(final, cand) END;
        END IF;
    END LOOP;
    RETURN to_timestamp(final::double precision);
END
$$;

-- (wall, fold) + days, as Python's aware + timedelta (wall-clock arithmetic, fold reset).
CREATE FUNCTION _dg_find_daily(p_minute integer, p_hour integer, dows integer[],
                               INOUT wall timestamp, INOUT fold integer, tz text,
                               ascending boolean, on_boundary boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    nw timestamp;
    nf integer;
    k integer := 0;
    x record;
BEGIN
    LOOP
        k := k + 1;
        IF k > 10 THEN
            RAISE EXCEPTION 'daily schedule search did not reach an intended day of week';
        END IF;
        IF NOT on_boundary OR extract(hour FROM wall) <> p_hour OR extract(minute FROM wall) <> p_minute
           OR date_trunc('minute', wall) <> wall THEN
            SELECT r.wall, r.fold INTO nw, nf
              FROM _py_replace(wall, fold, tz, p_hour, p_minute, extract(day FROM wall)::int) r;
        ELSE
            nw := wall; nf := fold;
        END IF;
        IF ascending THEN
            IF on_boundary OR _py_instant(nw, nf, tz) <= _py_instant(wall, fold, tz) THEN
                nw := nw + interval '1 day'; nf := 0;
            END IF;
        ELSE
            IF on_boundary OR _py_instant(nw, nf, tz) >= _py_instant(wall, fold, tz) THEN
                nw := nw - interval '1 day'; nf := 0;
            END IF;
        END IF;
        IF extract(hour FROM nw) <> p_hour OR extract(minute FROM nw) <> p_minute THEN
            SELECT r.wall, r.fold INTO nw, nf
              FROM _py_replace(nw, nf, tz, p_hour, p_minute, extract(day FROM nw)::int) r;
        END IF;
        SELECT r.wall, r.fold INTO wall, fold FROM _py_fold_post(nw, nf, tz) r;
        IF dows IS NULL OR extract(dow FROM wall)::int = ANY (dows) THEN
            RETURN;
        END IF;
        on_boundary := true;
    END LOOP;
END
$$;

CREATE FUNCTION _dg_find_weekly(p_minute integer, p_hour integer, p_dow integer,
                                INOUT wall timestamp, INOUT fold integer, tz text,
                                ascending boolean, on_boundary boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    nw timestamp;
    nf integer;
    cur_dow integer;
BEGIN
    IF NOT on_boundary THEN
        SELECT r.wall, r.fold INTO nw, nf
          FROM _py_replace(wall, fold, tz, p_hour, p_minute, extract(day FROM wall)::int) r;
        cur_dow := extract(dow FROM nw);
        IF p_dow <> cur_dow THEN
            IF ascending THEN
                nw := nw + make_interval(days => _py_mod(p_dow - cur_dow, 7)::int);
            ELSE
                nw := nw - make_interval(days => _py_mod(cur_dow - p_dow, 7)::int);
            END IF;
            nf := 0;
        END IF;
    ELSE
        nw := wall; nf := fold;
    END IF;
    IF ascending THEN
        IF on_boundary OR _py_instant(nw, nf, tz) <= _py_instant(wall, fold, tz) THEN
            nw := nw + interval '7 days'; nf := 0;
        END IF;
    ELSE
        IF on_boundary OR _py_instant(nw, nf, tz) >= _py_instant(wall, fold, tz) THEN
            nw := nw - interval '7 days'; nf := 0;
        END IF;
    END IF;
    IF extract(hour FROM nw) <> p_hour OR extract(minute FROM nw) <> p_minute THEN
        SELECT r.wall, r.fold INTO nw, nf
          FROM _py_replace(nw, nf, tz, p_hour, p_minute, extract(day FROM nw)::int) r;
    END IF;
    SELECT r.wall, r.fold INTO wall, fold FROM _py_fold_post(nw, nf, tz) r;
END
$$;

CREATE FUNCTION _dg_find_monthly(p_minute integer, p_hour integer, p_day integer,
                                 INOUT wall timestamp, INOUT fold integer, tz text,
                                 ascending boolean, on_boundary boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    nw timestamp;
    nf integer;
BEGIN
    IF NOT on_boundary THEN
        SELECT r.wall, r.fold INTO nw, nf FROM _py_replace(wall, fold, tz, p_hour, p_minute, p_day) r;
    ELSE
        nw := wall; nf := fold;
    END IF;
    IF ascending THEN
        IF on_boundary OR _py_instant(nw, nf, tz) <= _py_instant(wall, fold, tz) THEN
            nw := nw + interval '1 month'; nf := 0;
        END IF;
    ELSE
        IF on_boundary OR _py_instant(nw, nf, tz) >= _py_instant(wall, fold, tz) THEN
            nw := nw - interval '1 month'; nf := 0;
        END IF;
    END IF;
    IF extract(hour FROM nw) <> p_hour OR extract(minute FROM nw) <> p_minute THEN
        SELECT r.wall, r.fold INTO nw, nf FROM _py_replace(nw, nf, tz, p_hour, p_minute, p_day) r;
    END IF;
    SELECT r.wall, r.fold INTO wall, fold FROM _py_fold_post(nw, nf, tz) r;
END
$$;

-- Which of Dagster's special-cased iterators an expression uses ('hourly', 'daily',
-- 'weekly', 'monthly'), or NULL for the general croniter path.
CREATE FUNCTION _dg_schedule_kind(s cron_spec) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN num_min AND num_hour AND cardinality(s.days) = 1 AND s.days[1] NOT IN (-1, 99)
             AND s.months = '{-1}' AND s.days_of_week = '{-1}' AND s.days[1] <= 28 THEN 'monthly'
        WHEN num_min AND num_hour AND cardinality(s.days_of_week) = 1 AND s.days_of_week[1] <> -1
             AND s.days = '{-1}' AND s.months = '{-1}' THEN 'weekly'
        WHEN num_min AND num_hour AND s.days = '{-1}' AND s.months = '{-1}'
             AND (s.days_of_week = '{-1}' OR NOT (-1 = ANY (s.days_of_week))) THEN 'daily'
        WHEN NOT (-1 = ANY (s.minutes)) AND s.hours = '{-1}' AND s.days = '{-1}'
             AND s.months = '{-1}' AND s.days_of_week = '{-1}' THEN 'hourly'
    END
    FROM (SELECT cardinality(s.minutes) = 1 AND s.minutes[1] <> -1 AS num_min,
                 cardinality(s.hours) = 1 AND s.hours[1] <> -1 AS num_hour) f
$$;

-- One step of a special-cased iterator.
CREATE FUNCTION _dg_find(s cron_spec, kind text, INOUT wall timestamp, INOUT fold integer, tz text,
                         ascending boolean, on_boundary boolean, use_tz_minutes boolean)
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    u timestamptz;
BEGIN
    CASE kind
        WHEN 'hourly' THEN
            u := _dg_find_hourly(s.minutes, _py_instant(wall, fold, tz), tz, ascending, on_boundary,
                                 use_tz_minutes);
            SELECT f.wall, f.fold INTO wall, fold FROM _py_from_instant(u, tz) f;
        WHEN 'daily' THEN
            SELECT f.wall, f.fold INTO wall, fold
              FROM _dg_find_daily(s.minutes[1], s.hours[1],
                                  CASE WHEN s.days_of_week = '{-1}' THEN NULL ELSE s.days_of_week END,
                                  wall, fold, tz, ascending, on_boundary) f;
        WHEN 'weekly' THEN
            SELECT f.wall, f.fold INTO wall, fold
              FROM _dg_find_weekly(s.minutes[1], s.hours[1], s.days_of_week[1], wall, fold, tz,
                                   ascending, on_boundary) f;
        ELSE
            SELECT f.wall, f.fold INTO wall, fold
              FROM _dg_find_monthly(s.minutes[1], s.hours[1], s.days[1], wall, fold, tz,
                                    ascending, on_boundary) f;
    END CASE;
END
$$;

-- dagster cron_string_iterator for a special-cased kind: first tick strictly after `after`.
CREATE FUNCTION _dg_known_next(s cron_spec, kind text, tz text, after timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    st record;
    w timestamp;
    f integer;
    -- Dagster decides once per process, from the offset in effect now, whether hourly
    -- schedules count minutes in local time (zones with a non-whole-hour offset).
    use_tz_minutes boolean := kind = 'hourly'
        AND _py_mod(extract(epoch FROM _tz_offset(now(), tz)), 3600) <> 0;
    n integer := 0;
BEGIN
    SELECT * INTO st FROM _py_from_instant(after, tz);
    w := st.wall; f := st.fold;
    IF NOT ((s.expression = '0 0 * * *' AND date_trunc('day', w) = w)
            OR (s.expression = '0 * * * *' AND date_trunc('hour', w) = w)) THEN
        SELECT r.wall, r.fold INTO w, f FROM _dg_find(s, kind, w, f, tz, false, false, use_tz_minutes) r;
        SELECT r.wall, r.fold INTO w, f FROM _dg_find(s, kind, w, f, tz, true, true, use_tz_minutes) r;
    END IF;
    WHILE _py_instant(w, f, tz) <= after LOOP
        n := n + 1;
        IF n > 100 THEN
            RAISE EXCEPTION 'schedule search for "%" did not advance past %', s.expression, after;
        END IF;
        SELECT r.wall, r.fold INTO w, f FROM _dg_find(s, kind, w, f, tz, true, true, use_tz_minutes) r;
    END LOOP;
    RETURN _py_instant(w, f, tz);
END
$$;

-- ---------------------------------------------------------------------------------------
-- Public evaluation
-- ---------------------------------------------------------------------------------------

-- Raises the standard error for a bad expression or time zone (22023, naming the value).
CREATE FUNCTION _cron_check(expression text, tz text, schedule_name text DEFAULT NULL) RETURNS cron_spec
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS $$
DECLARE
    p record;
    tz_problem text;
    for_schedule text := CASE WHEN schedule_name IS NULL THEN ''
                              ELSE format(' for schedule "%s"', schedule_name) END;
BEGIN
    SELECT * INTO p FROM _cron_parse(expression);
    IF p.problem IS NOT NULL THEN
        RAISE EXCEPTION 'invalid cron expression "%"%: %', expression, for_schedule, p.problem
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'cron_expression';
    END IF;
    tz_problem := timezone_problem(tz);
    IF tz_problem IS NOT NULL THEN
        RAISE EXCEPTION 'invalid time zone "%"%: %', tz, for_schedule, tz_problem
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'timezone';
    END IF;
    RETURN p.spec;
END
$$;

-- The first tick of `s` strictly after `after`, as Dagster's cron_string_iterator fires.
CREATE FUNCTION _cron_spec_next(s cron_spec, tz text, after timestamptz) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    kind text;
    day28 cron_spec;
    cur timestamptz := after;
    t timestamptz;
    y integer;
BEGIN
    IF after IS NULL THEN
        RETURN NULL;
    END IF;
    IF right(s.expression, 7) = ' 29 2 *' THEN
        -- Dagster's leap-day rule: iterate "... 28 2 *" from `after`, keep leap years,
        -- and fire one day later (wall clock).
        day28 := (_cron_parse(left(s.expression, -7) || ' 28 2 *')).spec;
        LOOP
            t := _cron_general_next(day28, tz, cur - interval '1 microsecond');
            IF t IS NULL THEN
                RETURN NULL;
            END IF;
            y := extract(year FROM t AT TIME ZONE tz);
            IF (y % 4 = 0 AND y % 100 <> 0) OR y % 400 = 0 THEN
                RETURN _py_instant((t AT TIME ZONE tz) + interval '1 day', 0, tz);
            END IF;
            cur := make_timestamp(y, 3, 1, 0, 0, 0) AT TIME ZONE tz;
        END LOOP;
    END IF;
    kind := _dg_schedule_kind(s);
    IF kind IS NULL THEN
        RETURN _cron_general_next(s, tz, after);
    END IF;
    RETURN _dg_known_next(s, kind, tz, after);
END
$$;

CREATE FUNCTION cron_next_run(expression text, timezone text, after timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL RESTRICTED AS $$
    SELECT _cron_spec_next(_cron_check(expression, timezone), timezone, after)
$$;
COMMENT ON FUNCTION cron_next_run(text, text, timestamptz) IS
    'First tick strictly after `after` of a 5-field cron expression evaluated in an IANA time zone, '
    'exactly as Dagster''s scheduler fires it (DST included). Raises 22023 for an invalid expression or zone.';

CREATE FUNCTION cron_next_runs(expression text, timezone text, after timestamptz, n integer)
RETURNS SETOF timestamptz
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS $$
DECLARE
    s cron_spec := _cron_check(expression, timezone);
    t timestamptz := after;
BEGIN
    FOR i IN 1..coalesce(n, 0) LOOP
        t := _cron_spec_next(s, timezone, t);
        EXIT WHEN t IS NULL;
        RETURN NEXT t;
    END LOOP;
END
$$;
COMMENT ON FUNCTION cron_next_runs(text, text, timestamptz, integer) IS
    'The next n ticks strictly after `after` (see cron_next_run).';

-- The next run strictly after `after` of a schedule with these column values (no row
-- needed). `anchor_fallback` is the interval anchor used when the schedule has neither
-- last_run_time nor start_date (the trigger passes created_at; NULL means `after`).
CREATE FUNCTION schedule_next_run(
    p_schedule_type schedule_type,
    p_cron_expression text,
    p_interval_minutes integer,
    p_fixed_times time[],
    p_timezone text,
    p_start_date date,
    p_end_date date,
    p_last_run_time timestamptz,
    p_after timestamptz,
    p_anchor_fallback timestamptz DEFAULT NULL,
    p_schedule_name text DEFAULT NULL
) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED AS $$
DECLARE
    tz text := coalesce(p_timezone, 'UTC');
    start_at timestamptz;
    end_before timestamptz;
    eff_after timestamptz;
    anchor timestamptz;
    step interval;
    k numeric;
    t timestamptz;
    tt timestamptz;
    ft time;
    tz_problem text;
BEGIN
    IF p_after IS NULL OR p_schedule_type IS NULL OR p_schedule_type IN ('event_based', 'manual') THEN
        RETURN NULL;
    END IF;
    tz_problem := timezone_problem(tz);
    IF tz_problem IS NOT NULL THEN
        RAISE EXCEPTION 'invalid time zone "%"%: %', tz,
            CASE WHEN p_schedule_name IS NULL THEN '' ELSE format(' for schedule "%s"', p_schedule_name) END,
            tz_problem
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'timezone';
    END IF;
    start_at := p_start_date::timestamp AT TIME ZONE tz;
    end_before := (p_end_date + 1)::timestamp AT TIME ZONE tz;
    eff_after := CASE WHEN start_at IS NULL THEN p_after
                      ELSE greatest(p_after, start_at - interval '1 microsecond') END;
    CASE p_schedule_type
        WHEN 'cron' THEN
            t := _cron_spec_next(_cron_check(p_cron_expression, tz, p_schedule_name), tz, eff_after);
        WHEN 'fixed_time' THEN
            -- one daily Dagster cron "M H * * *" per time (seconds are ignored)
            FOREACH ft IN ARRAY coalesce(p_fixed_times, '{}') LOOP
                CONTINUE WHEN ft IS NULL;
                tt := cron_next_run(format('%s %s * * *', extract(minute FROM ft)::int,
                                           extract(hour FROM ft)::int), tz, eff_after);
                t := least(t, tt);
            END LOOP;
        WHEN 'interval' THEN
            IF p_interval_minutes IS NULL OR p_interval_minutes <= 0 THEN
                RAISE EXCEPTION 'invalid interval_minutes "%"%: must be a positive number of minutes',
                    p_interval_minutes,
                    CASE WHEN p_schedule_name IS NULL THEN '' ELSE format(' for schedule "%s"', p_schedule_name) END
                    USING ERRCODE = 'invalid_parameter_value', COLUMN = 'interval_minutes';
            END IF;
            anchor := date_trunc('minute', coalesce(p_last_run_time, start_at, p_anchor_fallback, p_after),
                                 'UTC');
            step := make_interval(mins => p_interval_minutes);
            -- ticks are anchor + k * step (k >= 0) in elapsed time, the first after eff_after
            k := greatest(0, floor(extract(epoch FROM eff_after - anchor) / (p_interval_minutes * 60)) + 1);
            t := anchor + k * step;
            IF t <= eff_after THEN
                t := t + step;
            END IF;
    END CASE;
    IF t IS NOT NULL AND end_before IS NOT NULL AND t >= end_before THEN
        RETURN NULL;
    END IF;
    RETURN t;
END
$$;
COMMENT ON FUNCTION schedule_next_run(schedule_type, text, integer, time[], text, date, date, timestamptz,
                                      timestamptz, timestamptz, text) IS
    'Next run strictly after p_after of a schedule given its column values (cron, interval, fixed_time), '
    'in its time zone, within start_date..end_date (local dates); NULL for event_based/manual or past the end.';

-- Trigger: validate the cron expression and time zone, and keep next_run_time current.
-- Inactive schedules have no next run (NULL); activating one computes it again.
CREATE OR REPLACE FUNCTION calculate_next_run_time() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    problem text;
BEGIN
    IF NEW.cron_expression IS NOT NULL THEN
        problem := cron_problem(NEW.cron_expression);
        IF problem IS NOT NULL THEN
            RAISE EXCEPTION 'invalid cron expression "%" for schedule "%": %',
                NEW.cron_expression, NEW.schedule_name, problem
                USING ERRCODE = 'invalid_parameter_value', COLUMN = 'cron_expression',
                      TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
        END IF;
    END IF;
    problem := timezone_problem(NEW.timezone);
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'invalid time zone "%" for schedule "%": %', NEW.timezone, NEW.schedule_name, problem
            USING ERRCODE = 'invalid_parameter_value', COLUMN = 'timezone',
                  TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
    END IF;
    IF NOT coalesce(NEW.is_active, true) THEN
        NEW.next_run_time := NULL;
        RETURN NEW;
    END IF;
    NEW.next_run_time := schedule_next_run(
        NEW.schedule_type, NEW.cron_expression, NEW.interval_minutes, NEW.fixed_times, NEW.timezone,
        NEW.start_date, NEW.end_date, NEW.last_run_time, now(), NEW.created_at, NEW.schedule_name);
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION calculate_next_run_time() IS
    'BEFORE trigger of integration_schedules: rejects an invalid cron expression or time zone and sets '
    'next_run_time = schedule_next_run(..., now()); NULL when inactive, event_based/manual or past end_date.';

DROP TRIGGER IF EXISTS update_next_run_time ON integration_schedules;
CREATE TRIGGER update_next_run_time
    BEFORE INSERT OR UPDATE OF last_run_time, schedule_type, interval_minutes, fixed_times, cron_expression,
                               timezone, start_date, end_date, is_active
    ON integration_schedules
    FOR EACH ROW
    EXECUTE FUNCTION calculate_next_run_time();
