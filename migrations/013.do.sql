-- Read model "profiles" (projections/profiles.ts): each user's current profile, a column per field
-- so analysts can query it with plain SQL. A deleted profile keeps a tombstone row.
CREATE TABLE profiles (
  owner text PRIMARY KEY,
  stream_id text NOT NULL,
  version integer NOT NULL,
  deleted boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  date_of_birth date,
  marital_status text,
  number_of_dependents integer NOT NULL DEFAULT 0,
  employment_status text,
  employer_name text,
  job_title text,
  years_employed double precision,
  annual_income numeric,
  risk_tolerance text,
  tax_filing_status text,
  financial_goals jsonb NOT NULL DEFAULT '[]',
  investment_experience_years integer,
  retirement_age_target integer,
  notes text
);
