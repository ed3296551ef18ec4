// Markers the project's ValueSets carry on each enumerated concept (written by profiles/build.py), the
// profiles that keep those ValueSets enumerated (so a required binding is an exact set lookup), and an
// example ConceptMap from an EHR's local codes.

Extension: VerificationStatus
Id: verification-status
Title: "Code verification status"
Description: "How well the code's meaning was checked against public sources: verified, corroborated (seen with the same meaning in at least two independent public code lists) or unverified (used, and listed for clinical review)."
Context: ValueSet.compose.include.concept
* value[x] only code
* valueCode from VerificationStatusValues (required)

Extension: MatchPrefix
Id: match-prefix
Title: "Code names a code family"
Description: "The code stands for every code that starts with it (ICD-10 dots and case ignored; ATC levels), because enumerating every child code is impractical."
Context: ValueSet.compose.include.concept
* value[x] only boolean

Extension: RequiresRoute
Id: requires-route
Title: "Code counts only for these routes"
Description: "The code belongs to the concept only for products given by one of these routes, `|`-separated (topical lidocaine counts as topical-lidocaine only as a plaster or topical form)."
Context: ValueSet.compose.include.concept
* value[x] only code

Extension: VerificationNote
Id: verification-note
Title: "Verification note"
Description: "Why the code is doubtful, or where it was seen."
Context: ValueSet.compose.include.concept
* value[x] only string

CodeSystem: VerificationStatusCodes
Id: verification-status
Title: "Code verification statuses"
Description: "How well a code of a fhir-bonemet ValueSet was checked."
* ^caseSensitive = true
* #verified "Verified" "Checked against the code system's own publication."
* #corroborated "Corroborated" "Seen with the same meaning in at least two independent public code lists."
* #unverified "Unverified" "Used, and awaiting clinical review."

ValueSet: VerificationStatusValues
Id: verification-status
Title: "Code verification statuses"
Description: "The values of the verification-status extension."
* include codes from system VerificationStatusCodes

Profile: BonemetValueSet
Parent: ValueSet
Id: bonemet-valueset
Title: "fhir-bonemet enumerated ValueSet"
Description: "A ValueSet of the service (profiles/valuesets/): every code is listed (compose.include.concept), no filters and no imported value sets, so that checking a required binding is an exact lookup and the service can compare codes without a terminology server. Codes marked with match-prefix stand for a code family."
* url 1..1
* url obeys bonemet-vs-url
* name 1..1
* status = #draft
* compose 1..1
* compose.exclude 0..0
* compose.include 1..*
* compose.include.system 1..1
* compose.include.filter 0..0
* compose.include.valueSet 0..0
* compose.include.concept 1..*
* obeys bonemet-vs-enumerated
* compose.include.concept.extension contains
    VerificationStatus named verificationStatus 1..1 and
    MatchPrefix named matchPrefix 0..1 and
    RequiresRoute named requiresRoute 0..1 and
    VerificationNote named verificationNote 0..1

Invariant: bonemet-vs-enumerated
Description: "Every include names a system and lists its concepts (no filter, no imported ValueSet, no exclude), each with exactly one verification status: the element rules on compose, stated at the root so that every validator evaluates them."
Expression: "compose.exclude.empty() and compose.include.exists() and compose.include.all(system.exists() and concept.exists() and filter.empty() and valueSet.empty()) and compose.include.concept.all(extension.where(url = 'http://fhir-bonemet.org/fhir/StructureDefinition/verification-status').count() = 1)"
Severity: #error

Invariant: bonemet-vs-url
Description: "The canonical URL is the project's ValueSet URL for the concept id in ValueSet.name."
Expression: "$this = 'http://fhir-bonemet.org/fhir/ValueSet/' + %resource.name"
Severity: #error

Profile: BonemetCodeSystem
Parent: CodeSystem
Id: bonemet-codesystem
Title: "fhir-bonemet local CodeSystem"
Description: "The project's own codes (profiles/CodeSystem-bonemet.json): complete, case-sensitive, is-a hierarchy."
* url = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet" (exactly)
* caseSensitive = true
* content = #complete
* hierarchyMeaning = #is-a
* concept 1..*
* concept.display 1..1
* concept.definition 1..1
* obeys bonemet-cs-defined

Invariant: bonemet-cs-defined
Description: "Every concept, at every level of the hierarchy the CodeSystem uses, has a display and a definition."
Expression: "(concept | concept.concept | concept.concept.concept).all(display.exists() and definition.exists())"
Severity: #error

Profile: BonemetLocalCodeConceptMap
Parent: ConceptMap
Id: bonemet-local-code-conceptmap
Title: "ConceptMap from an EHR's local codes to fhir-bonemet codes"
Description: "What the service reads from a ConceptMap in its ConceptMap directory: each group names its source and target systems; each element a local code. A target code must belong to a fhir-bonemet ValueSet, or be a project answer code for a coded value such as the lesion type or a yes/no answer (checked when the service starts); `unmatched` and `disjoint` targets are ignored."
* url 1..1
* group 1..*
* group.source 1..1
* group.target 1..1
* group.element.code 1..1
* group.element.target.equivalence 1..1
* obeys bonemet-cm-target-code and bonemet-cm-groups

Invariant: bonemet-cm-groups
Description: "Every group names its source and target systems, every element a code, every target an equivalence: the element rules on group, stated at the root so that every validator evaluates them."
Expression: "group.all(source.exists() and target.exists() and element.all(code.exists() and target.all(equivalence.exists())))"
Severity: #error

Invariant: bonemet-cm-target-code
Description: "A target that maps (any equivalence but unmatched or disjoint) names a target code."
Expression: "group.element.target.all(equivalence = 'unmatched' or equivalence = 'disjoint' or code.exists())"
Severity: #error

Instance: example-local-flowsheet-conceptmap
InstanceOf: BonemetLocalCodeConceptMap
Title: "Example: an oncology flowsheet's local SINS, Mirels and pain rows mapped to fhir-bonemet codes"
Usage: #example
* url = "http://hospital.example.org/fhir/ConceptMap/oncology-flowsheet"
* version = "1.0.0"
* name = "OncologyFlowsheetToBonemet"
* status = #active
* experimental = true
* group[0].source = "http://hospital.example.org/flowsheet/oncology"
* group[0].target = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet"
* group[0].element[0].code = #SINS-TOT
* group[0].element[0].display = "SINS total (spine clinic)"
* group[0].element[0].target[0].code = #sins-total
* group[0].element[0].target[0].display = "SINS total score"
* group[0].element[0].target[0].equivalence = #equivalent
* group[0].element[1].code = #MIRELS
* group[0].element[1].display = "Mirels score (orthopaedic clinic)"
* group[0].element[1].target[0].code = #mirels-total
* group[0].element[1].target[0].display = "Mirels total score"
* group[0].element[1].target[0].equivalence = #equivalent
* group[1].source = "http://hospital.example.org/flowsheet/nursing"
* group[1].target = "http://loinc.org"
* group[1].element[0].code = #PAIN-NRS
* group[1].element[0].display = "Pain score 0-10 (nursing flowsheet)"
* group[1].element[0].target[0].code = #72514-3
* group[1].element[0].target[0].display = "Pain severity - 0-10 verbal numeric rating [Score] - Reported"
* group[1].element[0].target[0].equivalence = #equivalent

Instance: example-lesion-type-valueset
InstanceOf: BonemetValueSet
Title: "Example: an enumerated ValueSet in the form of profiles/valuesets/"
Usage: #example
* url = "http://fhir-bonemet.org/fhir/ValueSet/example-lesion-type"
* name = "example-lesion-type"
* title = "Bone lesion type (example)"
* status = #draft
* compose.include[0].system = "http://fhir-bonemet.org/fhir/CodeSystem/bonemet"
* compose.include[0].concept[0].code = #lesion-type
* compose.include[0].concept[0].display = "Bone lesion radiological type"
* compose.include[0].concept[0].extension[verificationStatus].valueCode = #verified
* compose.include[1].system = "http://hl7.org/fhir/sid/icd-10-cm"
* compose.include[1].concept[0].code = #M84.5
* compose.include[1].concept[0].display = "Pathological fracture in neoplastic disease"
* compose.include[1].concept[0].extension[verificationStatus].valueCode = #unverified
* compose.include[1].concept[0].extension[matchPrefix].valueBoolean = true
