# Reference values for quchi_stats' estimation tests, from R's survey package.
#
# Run from this folder:   Rscript make_reference.R
# (Debian: apt-get install -y r-base-core r-cran-survey). It writes
#   api_strat.csv, api_clus1.csv, api_clus2.csv  -- the columns of R survey's `api` data the tests use
#                                                 (California Academic Performance Index, public data)
#   nhanes.csv                                    -- the columns of R survey's `nhanes` data the tests use
#                                                 (NHANES 2009-10, public data)
#   fieldwork_2018.csv                            -- a respondent file built by quchi_stats from data_samples
#                                                 (written by the tests' helper; read here if present)
#   reference_values.csv                          -- case, statistic, value (printed with 15 digits)
# The tests compare quchi_stats with these values to 1e-6 relative. R and package versions are recorded.

suppressMessages(library(survey))
data(api)
out <- list()
add <- function(case, stat, value) {
  value <- if (length(value) == 0) NA_real_ else as.numeric(value)[1]
  out[[length(out) + 1]] <<- data.frame(case = case, statistic = stat, value = value)
}
keep <- c("cds", "stype", "dnum", "snum", "pw", "fpc", "api00", "api99", "api.stu", "enroll", "ell",
          "sch.wide", "comp.imp", "meals")
write.csv(apistrat[, intersect(c(keep, "fpc"), names(apistrat))], "api_strat.csv", row.names = FALSE)
write.csv(apiclus1[, intersect(keep, names(apiclus1))], "api_clus1.csv", row.names = FALSE)
write.csv(apiclus2[, intersect(c(keep, "fpc1", "fpc2"), names(apiclus2))], "api_clus2.csv",
          row.names = FALSE)

dstrat <- svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat, fpc = ~fpc)
dclus1 <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1, fpc = ~fpc)
dclus1_wr <- svydesign(id = ~dnum, weights = ~pw, data = apiclus1)
dclus2 <- svydesign(id = ~dnum + snum, fpc = ~fpc1 + fpc2, data = apiclus2)
dclus2_wr <- svydesign(id = ~dnum + snum, weights = ~pw, data = apiclus2)

mean_case <- function(case, formula, design) {
  m <- svymean(formula, design, deff = TRUE, na.rm = TRUE)
  add(case, "estimate", coef(m)); add(case, "se", SE(m)); add(case, "deff", deff(m))
  add(case, "df", degf(design))
}
mean_case("svymean api00 dstrat", ~api00, dstrat)
mean_case("svymean api00 dclus1", ~api00, dclus1)
mean_case("svymean api00 dclus1 wr", ~api00, dclus1_wr)
mean_case("svymean api00 dclus2", ~api00, dclus2)
mean_case("svymean api00 dclus2 wr", ~api00, dclus2_wr)

t <- svytotal(~enroll, dclus1, deff = TRUE)
add("svytotal enroll dclus1", "estimate", coef(t)); add("svytotal enroll dclus1", "se", SE(t))
add("svytotal enroll dclus1", "deff", deff(t))
t <- svytotal(~enroll, dclus2, na.rm = TRUE)
add("svytotal enroll dclus2", "estimate", coef(t)); add("svytotal enroll dclus2", "se", SE(t))

r <- svyratio(~api.stu, ~enroll, dstrat)
add("svyratio api.stu/enroll dstrat", "estimate", coef(r)); add("svyratio api.stu/enroll dstrat", "se", SE(r))
r <- svyratio(~api.stu, ~enroll, dclus2, na.rm = TRUE)
add("svyratio api.stu/enroll dclus2", "estimate", coef(r)); add("svyratio api.stu/enroll dclus2", "se", SE(r))

ci_case <- function(case, formula, design, method) {
  ci <- svyciprop(formula, design, method = method)
  add(case, "estimate", coef(ci)); add(case, "ci_lower", confint(ci)[1]); add(case, "ci_upper", confint(ci)[2])
}
ci_case("svyciprop ell==0 dclus1 beta", ~I(ell == 0), dclus1, "beta")
ci_case("svyciprop ell==0 dclus1 xlogit", ~I(ell == 0), dclus1, "xlogit")
ci_case("svyciprop ell==0 dclus1 mean", ~I(ell == 0), dclus1, "mean")
ci_case("svyciprop sch.wide dclus2 beta", ~I(sch.wide == "Yes"), dclus2, "beta")
ci_case("svyciprop sch.wide dclus2 xlogit", ~I(sch.wide == "Yes"), dclus2, "xlogit")

for (meth in c("beta", "xlogit", "mean")) {
  b <- svyby(~I(sch.wide == "Yes"), ~stype, dclus1, svyciprop, method = meth, vartype = c("se", "ci"))
  for (i in seq_len(nrow(b))) {
    case <- paste0("svyby sch.wide stype dclus1 ", meth, " ", b$stype[i])
    add(case, "estimate", b[i, 2]); add(case, "se", b$se[i])
    add(case, "ci_lower", b$ci_l[i]); add(case, "ci_upper", b$ci_u[i])
  }
}
for (s in c("E", "H", "M")) add(paste0("domain df dclus1 ", s), "df", degf(subset(dclus1, stype == s)))
b <- svyby(~I(sch.wide == "Yes"), ~stype, dclus2, svyciprop, method = "beta", vartype = c("se", "ci"))
for (i in seq_len(nrow(b))) {
  case <- paste0("svyby sch.wide stype dclus2 beta ", b$stype[i])
  add(case, "estimate", b[i, 2]); add(case, "se", b$se[i])
  add(case, "ci_lower", b$ci_l[i]); add(case, "ci_upper", b$ci_u[i])
}
b <- svyby(~api00, ~stype, dstrat, svymean, deff = TRUE)
for (i in seq_len(nrow(b))) {
  case <- paste0("svyby api00 stype dstrat ", b$stype[i])
  add(case, "estimate", b$api00[i]); add(case, "se", b$se[i]); add(case, "deff", b$DEff.api00[i])
}
b <- svyby(~api00, ~stype, dclus2, svymean)
for (i in seq_len(nrow(b))) {
  case <- paste0("svyby api00 stype dclus2 ", b$stype[i])
  add(case, "estimate", b$api00[i]); add(case, "se", b$se[i])
}
b <- svyby(~api.stu, ~stype, denominator = ~enroll, dclus1, svyratio)
for (i in seq_len(nrow(b))) {
  case <- paste0("svyby ratio api.stu/enroll stype dclus1 ", b$stype[i])
  add(case, "estimate", b[i, 2]); add(case, "se", b[i, 3])
}

for (l in c("remove", "adjust", "average", "certainty")) {
  options(survey.lonely.psu = l)
  d <- svydesign(id = ~1, strata = ~dnum, weights = ~pw, data = apiclus1)
  m <- svymean(~api00, d)
  add(paste0("lonely ", l), "estimate", coef(m)); add(paste0("lonely ", l), "se", SE(m))
}
options(survey.lonely.psu = "fail")

jk <- as.svrepdesign(dclus1_wr, type = "JK1")
m <- svymean(~api00, jk); add("jackknife JK1 api00 dclus1", "estimate", coef(m)); add("jackknife JK1 api00 dclus1", "se", SE(m))
jkn <- as.svrepdesign(svydesign(id = ~1, strata = ~stype, weights = ~pw, data = apistrat), type = "JKn")
m <- svymean(~api00, jkn); add("jackknife JKn api00 dstrat", "estimate", coef(m)); add("jackknife JKn api00 dstrat", "se", SE(m))
r <- svyratio(~api.stu, ~enroll, jkn); add("jackknife JKn ratio dstrat", "estimate", coef(r)); add("jackknife JKn ratio dstrat", "se", SE(r))
t <- svytotal(~enroll, jk); add("jackknife JK1 total dclus1", "estimate", coef(t)); add("jackknife JK1 total dclus1", "se", SE(t))

# quchi_stats' own design: the 2018 synthetic fieldwork (respondents, nonresponse-adjusted weights)
if (file.exists("fieldwork_2018.csv")) {
  fw <- read.csv("fieldwork_2018.csv", fileEncoding = "UTF-8-BOM")
  for (fr in c("registered", "exited")) {
    sub <- fw[fw$frame == fr, ]
    d <- svydesign(id = ~village, strata = ~town, weights = ~weight_adj, data = sub)
    y <- if (fr == "registered") ~I(identified_correctly == 1) else ~I(exit_correct == 1)
    for (meth in c("beta", "xlogit", "mean")) {
      b <- svyby(y, ~town, d, svyciprop, method = meth, vartype = c("se", "ci"), na.rm = TRUE)
      for (i in seq_len(nrow(b))) {
        case <- paste0("fieldwork ", fr, " ", meth, " ", b$town[i])
        add(case, "estimate", b[i, 2]); add(case, "se", b$se[i])
        add(case, "ci_lower", b$ci_l[i]); add(case, "ci_upper", b$ci_u[i])
      }
    }
    d2 <- svydesign(id = ~village + household_id, strata = ~town, fpc = ~n_villages_in_town + n_households_in_frame_of_village,
                    weights = ~weight_adj, data = sub)
    ynum <- if (fr == "registered") ~identified_correctly else ~exit_correct
    b <- svyby(ynum, ~town, d2, svymean, na.rm = TRUE)
    for (i in seq_len(nrow(b))) {
      case <- paste0("fieldwork two-stage ", fr, " ", b$town[i])
      add(case, "estimate", b[i, 2]); add(case, "se", b$se[i])
    }
    if (fr == "exited") {
      b <- svyby(~I(exit_correct * household_size), ~town, denominator = ~household_size, d, svyratio, na.rm = TRUE)
      for (i in seq_len(nrow(b))) {
        case <- paste0("fieldwork persons exited ", b$town[i])
        add(case, "estimate", b[i, 2]); add(case, "se", b[i, 3])
      }
    }
  }
}

# ---- parity with R where quchi_stats used to differ (issue 11, item 7) -----------------------------
options(survey.lonely.psu = "fail", survey.adjust.domain.lonely = FALSE)
svyby_ci <- function(prefix, formula, by, design, meth, ...) {
  b <- svyby(formula, by, design, svyciprop, method = meth, vartype = c("se", "ci"), ...)
  for (i in seq_len(nrow(b))) {
    case <- paste0(prefix, " ", meth, " ", b[i, 1])
    add(case, "estimate", b[i, 2]); add(case, "se", b$se[i])
    add(case, "ci_lower", b$ci_l[i]); add(case, "ci_upper", b$ci_u[i])
  }
}
# domains with missing y: NHANES (R survey's data(nhanes)), HI_CHOL by race; R counts the rows and
# PSUs of a domain with a missing HI_CHOL in its df and in nrow()
data(nhanes)
write.csv(nhanes[, c("SDMVPSU", "SDMVSTRA", "WTMEC2YR", "HI_CHOL", "race")], "nhanes.csv",
          row.names = FALSE)
dnh <- svydesign(id = ~SDMVPSU, strata = ~SDMVSTRA, weights = ~WTMEC2YR, nest = TRUE, data = nhanes)
for (meth in c("beta", "xlogit", "mean", "likelihood")) svyby_ci("nhanes HI_CHOL race", ~HI_CHOL, ~race, dnh, meth, na.rm = TRUE)
for (r in 1:4) add(paste0("domain df nhanes race ", r), "df", degf(subset(dnh, race == r)))

# svyciprop(method = "likelihood")
ci_case("svyciprop ell==0 dclus1 likelihood", ~I(ell == 0), dclus1, "likelihood")
ci_case("svyciprop sch.wide dclus2 likelihood", ~I(sch.wide == "Yes"), dclus2, "likelihood")
svyby_ci("svyby sch.wide stype dclus1", ~I(sch.wide == "Yes"), ~stype, dclus1, "likelihood")

# lonely PSUs by domain: every school its own PSU, strata = district (dnum 413 has one school;
# most districts lack some school types), with and without survey.adjust.domain.lonely
for (l in c("remove", "adjust", "average", "certainty")) {
  options(survey.lonely.psu = l)
  dl <- svydesign(id = ~1, strata = ~dnum, weights = ~pw, data = apiclus1)
  for (adj in c(FALSE, TRUE)) {
    options(survey.adjust.domain.lonely = adj)
    tag <- paste0("lonely ", l, if (adj) " domain-adjusted" else "")
    b <- svyby(~api00, ~stype, dl, svymean)
    for (i in seq_len(nrow(b))) {
      add(paste0(tag, " api00 stype ", b$stype[i]), "estimate", b$api00[i])
      add(paste0(tag, " api00 stype ", b$stype[i]), "se", b$se[i])
    }
    b <- suppressWarnings(svyby(~I(sch.wide == "Yes"), ~stype, dl, svyciprop, method = "beta",
                                vartype = c("se", "ci")))
    for (i in seq_len(nrow(b))) {
      case <- paste0(tag, " sch.wide stype beta ", b$stype[i])
      add(case, "estimate", b[i, 2]); add(case, "se", b$se[i])
      add(case, "ci_lower", b$ci_l[i]); add(case, "ci_upper", b$ci_u[i])
    }
  }
  options(survey.adjust.domain.lonely = FALSE)
  # the jackknife of the same design (R 4.1.1 warns under "adjust": see docs/estimation.md)
  jl <- suppressWarnings(as.svrepdesign(dl, type = "JKn"))
  m <- svymean(~api00, jl)
  add(paste0("jackknife JKn lonely ", l), "estimate", coef(m)); add(paste0("jackknife JKn lonely ", l), "se", SE(m))
}
options(survey.lonely.psu = "fail")

# NA in a by column: svyby leaves those rows out of every domain (they stay in the design)
a <- apiclus1
a$stype_na <- a$stype
a$stype_na[a$snum %% 7 == 0] <- NA
dna <- svydesign(id = ~dnum, weights = ~pw, data = a)
b <- svyby(~api00, ~stype_na, dna, svymean)
for (i in seq_len(nrow(b))) {
  add(paste0("by with NA api00 ", b$stype_na[i]), "estimate", b$api00[i])
  add(paste0("by with NA api00 ", b$stype_na[i]), "se", b$se[i])
}
svyby_ci("by with NA sch.wide", ~I(sch.wide == "Yes"), ~stype_na, dna, "beta")

# zero weights: kept as rows and PSUs (degf counts the PSUs with a positive weight)
a$pw0 <- ifelse(a$snum %% 5 == 0, 0, a$pw)
d0 <- svydesign(id = ~dnum, weights = ~pw0, data = a)
add("zero weights", "df", degf(d0))
m <- svymean(~api00, d0, deff = TRUE)
add("zero weights api00", "estimate", coef(m)); add("zero weights api00", "se", SE(m))
add("zero weights api00", "deff", deff(m))
ci_case("zero weights sch.wide beta", ~I(sch.wide == "Yes"), d0, "beta")
svyby_ci("zero weights sch.wide stype", ~I(sch.wide == "Yes"), ~stype, d0, "beta")
for (s in c("E", "H", "M")) add(paste0("domain df zero weights ", s), "df", degf(subset(d0, stype == s)))

vals <- do.call(rbind, out)
vals$value <- sprintf("%.15g", vals$value)
con <- file("reference_values.csv", "w")
writeLines(paste0("# R ", R.version$major, ".", R.version$minor, ", survey ", packageVersion("survey"),
                  "; generated by make_reference.R"), con)
write.csv(vals, con, row.names = FALSE)
close(con)
